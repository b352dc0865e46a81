import { describe, expect, it } from 'vitest';
import { hitHref, searchPath, snippetParts } from '../src/search';

describe('snippetParts', () => {
  it('cuts the snippet at the ranges', () => {
    expect(snippetParts('the quick fox', [[4, 9]])).toEqual([
      { text: 'the ', mark: false },
      { text: 'quick', mark: true },
      { text: ' fox', mark: false },
    ]);
  });
  it('counts UTF-16 units past an emoji', () => {
    const s = '😀 word';
    const parts = snippetParts(s, [[3, 7]]);
    expect(parts.find((p) => p.mark)?.text).toBe('word');
  });
  it('keeps markup as text and clips bad ranges', () => {
    const s = '<b>x</b> y';
    const parts = snippetParts(s, [
      [9, 99],
      [-5, 1],
      [4, 2],
    ]);
    expect(parts.map((p) => p.text).join('')).toBe(s);
    expect(parts.filter((p) => p.mark).map((p) => p.text)).toEqual(['<', 'y']);
  });
  it('gives the text once with no ranges', () => {
    expect(snippetParts('plain', [])).toEqual([{ text: 'plain', mark: false }]);
    expect(snippetParts('', [])).toEqual([{ text: '', mark: false }]);
  });
});

describe('paths', () => {
  it('encodes the query and the link', () => {
    expect(searchPath('a&b "c"', { limit: 5 })).toBe('/api/search?q=a%26b+%22c%22&limit=5');
    expect(hitHref({ agentId: 'ag_1', messageId: 'msg_2' })).toBe('#/agents/ag_1/m/msg_2');
  });
});
