import { describe, expect, it } from 'vitest';
import { commandFor, followRun, runnableBlocks, type RunIO } from '../src/coderun';

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

  // A socket that gives every event to the consumers held when it is sent,
  // and a start that runs the whole agent before it answers (a run that
  // ends at once, as under load).
  function fastRun(stored: string) {
    const consumers = new Set<{ onEvent: (ev: { type: string; payload?: any }) => void; onResync?: () => void }>();
    const order: string[] = [];
    const send = (type: string, payload: any) => consumers.forEach((c) => c.onEvent({ type, payload }));
    const io: RunIO = {
      subscribe: (_topics, c) => {
        order.push('subscribe');
        consumers.add(c);
        return () => consumers.delete(c);
      },
      start: async (id) => {
        order.push('start');
        send('agent_status', { agentId: id, status: 'running' });
        send('agent_output', { agentId: id, content: 'hello' });
        send('agent_status', { agentId: id, status: 'finished' });
      },
      status: async () => 'finished',
      output: async () => stored,
    };
    return { io, order, consumers };
  }
  const settle = () => new Promise((r) => setTimeout(r, 0));

  it('follows a run that ends before its start answers: subscribed first, then the stored output', async () => {
    const { io, order, consumers } = fastRun('hello\nworld');
    const seen: string[] = [];
    const statuses: string[] = [];
    const stop = followRun('a1', io, { output: (t) => seen.push(t), status: (s) => statuses.push(s), error: () => undefined });
    await settle();
    expect(order).toEqual(['subscribe', 'start']);
    expect(statuses).toEqual(['running', 'finished']);
    expect(seen[0]).toBe('hello\n');
    expect(seen.at(-1)).toBe('hello\nworld');
    stop();
    expect(consumers.size).toBe(0);
  });

  it("takes only its own agent's events, says a refused start, and after a resync asks where the run stands", async () => {
    const { io, consumers } = fastRun('stored');
    io.start = async () => {
      throw new Error('worktree is gone');
    };
    const seen: string[] = [];
    const statuses: string[] = [];
    const errs: unknown[] = [];
    followRun('a1', io, { output: (t) => seen.push(t), status: (s) => statuses.push(s), error: (x) => errs.push(x) });
    await settle();
    expect((errs[0] as Error).message).toBe('worktree is gone');
    const [c] = [...consumers];
    c.onEvent({ type: 'agent_output', payload: { agentId: 'other', content: 'not ours' } });
    expect(seen).toEqual([]);
    c.onResync?.();
    await settle();
    await settle();
    expect(statuses).toEqual(['finished']);
    expect(seen).toEqual(['stored']);
  });
});
