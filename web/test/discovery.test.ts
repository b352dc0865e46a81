import { describe, expect, it } from 'vitest';
import { splitArgs } from '../src/tasks';
import { joinArgs } from '../src/ui/Discovery';

describe('the discovery program as one line', () => {
  it('reads back as the same arguments', () => {
    for (const argv of [['python3', 'discover.py', '--env', '{environment}'], ['a b', "it's", ''], []]) {
      expect(splitArgs(joinArgs(argv))).toEqual(argv);
    }
  });
});
