import { describe, expect, it } from 'vitest';
import { applyEvent, type ChatMessage, fileTree, namesFiles, toolCallText } from '../src/workbench';

const streaming = (): ChatMessage[] => [
  { id: 'u', role: 'user', content: 'hi', status: 'complete' },
  { id: 'a', role: 'assistant', content: '', status: 'streaming' },
];

describe('applyEvent', () => {
  it('appends tokens to the message they name, in order', () => {
    let m = streaming();
    for (const t of ['Hel', 'lo', '!']) m = applyEvent(m, 'stream_token', { messageId: 'a', text: t });
    expect(m[1].content).toBe('Hello!');
    expect(m[1].status).toBe('streaming');
    expect(m[0].content).toBe('hi');
  });
  it('ends complete or stopped with usage, or as an error with the partial text', () => {
    const done = applyEvent(streaming(), 'stream_complete', {
      messageId: 'a',
      fullMessage: 'All',
      stopped: false,
      usage: { inputTokens: 3, outputTokens: 1, costUsd: 0.1 },
    });
    expect(done[1]).toMatchObject({ content: 'All', status: 'complete', outputTokens: 1, costUsd: 0.1 });
    const stopped = applyEvent(streaming(), 'stream_complete', { messageId: 'a', fullMessage: 'Pa', stopped: true, usage: {} });
    expect(stopped[1].status).toBe('stopped');
    const err = applyEvent(streaming(), 'stream_error', {
      messageId: 'a',
      partial: 'Half',
      error: { type: 'overloaded_error', message: 'Overloaded' },
      usage: {},
    });
    expect(err[1]).toMatchObject({ content: 'Half', status: 'error', error: 'overloaded_error: Overloaded' });
  });
  it('keeps the tool calls an answer ends with', () => {
    const calls = [{ id: 'call_1', name: 'get_weather', input: { city: 'Paris' } }];
    const done = applyEvent(streaming(), 'stream_complete', { messageId: 'a', fullMessage: '', stopped: false, usage: {}, toolCalls: calls });
    expect(done[1].toolCalls).toEqual(calls);
    expect(toolCallText(calls[0])).toBe('get_weather({"city":"Paris"})');
    expect(toolCallText({ id: 'x', name: 'cut', input: null, arguments: '{"a": ' })).toBe('cut({"a": )');
    expect(toolCallText({ id: 'x', name: 'long', input: { s: 'y'.repeat(500) } }, 20)).toHaveLength(20);
  });
  it('leaves the list alone for another message or event', () => {
    const m = streaming();
    expect(applyEvent(m, 'stream_token', { messageId: 'zzz', text: 'x' })).toBe(m);
    expect(applyEvent(m, 'something_else', { messageId: 'a' })).toBe(m);
  });
});

describe('namesFiles', () => {
  it('sees code blocks that name a file, not plain ones', () => {
    expect(namesFiles('x\n```ts src/app.ts\nconst a = 1;\n```\n')).toBe(true);
    expect(namesFiles('```README.md\n# hi\n```')).toBe(true);
    expect(namesFiles('```python\nprint(1)\n```')).toBe(false);
    expect(namesFiles('no code')).toBe(false);
  });
});

describe('fileTree', () => {
  it('lists folders before their files, sorted, with depths', () => {
    expect(fileTree(['b.txt', 'src/x/y.ts', 'src/a.ts'])).toEqual([
      [0, 'b.txt', 'b.txt'],
      [0, 'src/', undefined],
      [1, 'a.ts', 'src/a.ts'],
      [1, 'x/', undefined],
      [2, 'y.ts', 'src/x/y.ts'],
    ]);
  });
});
