import { describe, expect, it } from 'vitest';
import { commandFor, runnableBlocks } from '../src/coderun';

describe('coderun', () => {
  it('finds the runnable fenced blocks and runs each as argv', () => {
    const md = 'a\n```sh\necho hi; rm -rf "$x"\n```\ntext\n```ts\nlet a = 1\n```\n```python\nprint(1)\n```\n';
    const b = runnableBlocks(md);
    expect(b.map((x) => x.lang)).toEqual(['sh', 'python']);
    expect(commandFor(b[0])).toEqual(['sh', '-c', 'echo hi; rm -rf "$x"\n']);
    expect(commandFor(b[1])).toEqual(['python3', '-c', 'print(1)\n']);
  });
  it('skips empty blocks and unknown languages', () => {
    expect(runnableBlocks('```sh\n\n```\n```rust\nfn main(){}\n```\n')).toEqual([]);
  });
});
