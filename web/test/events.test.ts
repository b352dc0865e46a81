import { describe, expect, it } from 'vitest';
import {
  awaitsApproval,
  emptyModel,
  emptyTranscript,
  MAX_LIVE_CHUNKS,
  MAX_LIVE_UNLOADED,
  mergeAgentList,
  mergeMessages,
  reapplyStatePatches,
  reconcileLive,
  reduce,
  releaseTiles,
  releaseTranscripts,
  takeAgentAnswer,
  withNewest,
  type LiveChunk,
  type Model,
} from '../src/events';
import type { Envelope, Message } from '../src/types';

const agent = { id: 'ag_1', worktreeId: 'wt_1', name: 'Builder', status: 'finished' };

function ev(seq: number, type: string, payload: any): Envelope {
  return { seq, ts: `2026-11-21T10:00:${String(seq % 60).padStart(2, '0')}.000Z`, topic: 'agent:ag_1', type, payload };
}

function run(events: Envelope[], start: Model = { ...emptyModel(), agents: { ag_1: agent as any } }) {
  let m = start;
  const effects: any[] = [];
  for (const e of events) {
    const r = reduce(m, e);
    m = r.model;
    effects.push(...r.effects);
  }
  return { m, effects };
}

function msg(id: string, createdAt: string, content = id, role = 'assistant'): Message {
  return { id, agentId: 'ag_1', role, content, createdAt };
}

describe('reduce', () => {
  it('toasts an alert firing with its rule, what it saw and what was done, linking the run', () => {
    const { effects } = run([
      ev(1, 'alert_fired', {
        ruleName: 'loss NaN',
        runId: 'run_1',
        agentId: 'ag_1',
        kind: 'nan',
        message: 'loss is NaN at step 7',
        action: 'stop',
        actionResult: 'done',
        desktop: true,
      }),
    ]);
    const t = effects.find((e) => e.kind === 'toast');
    expect(t).toMatchObject({ level: 'error', title: 'loss NaN fired', body: 'loss is NaN at step 7 · stop: done', runId: 'run_1', agentId: 'ag_1' });
    expect(effects.some((e) => e.kind === 'notify')).toBe(true);
    const quiet = run([ev(1, 'alert_fired', { ruleName: 'slow', runId: 'run_1', kind: 'stale', message: 'no step', action: 'none', desktop: false })]);
    expect(quiet.effects.find((e) => e.kind === 'toast')).toMatchObject({ level: 'warn', body: 'no step' });
    expect(quiet.effects.some((e) => e.kind === 'notify')).toBe(false);
  });
  it('marks an agent stalled on run_stalled (with a toast) and clears it on run_resumed and at exit', () => {
    const { m, effects } = run([ev(1, 'run_stalled', { agentId: 'ag_1', runId: 'run_1', reason: 'disk full', since: 1 })]);
    expect(m.agents.ag_1.stalled).toBe('disk full');
    expect(effects.some((e) => e.kind === 'toast' && /stalled: disk full/.test(e.title))).toBe(true);
    expect(run([ev(2, 'run_resumed', { agentId: 'ag_1', runId: 'run_1', stalledMs: 5 })], m).m.agents.ag_1.stalled).toBe(null);
    expect(run([ev(2, 'agent_exit', { agentId: 'ag_1', code: 0 })], m).m.agents.ag_1.stalled).toBe(null);
  });

  it('applies events in seq order and ignores any seq it has already applied', () => {
    const out = [
      ev(1, 'agent_output', { agentId: 'ag_1', content: 'a', isComplete: true }),
      ev(2, 'agent_output', { agentId: 'ag_1', content: 'b', isComplete: true }),
    ];
    const replayed = [...out, out[0], out[1], ev(3, 'agent_output', { agentId: 'ag_1', content: 'c', isComplete: true })];
    const { m } = run(replayed);
    expect(m.transcripts.ag_1.live.map((c) => c.text)).toEqual(['a', 'b', 'c']);
    expect(m.lastSeq).toBe(3);
  });

  it('drops an event older than the last applied even if never seen (out of order)', () => {
    const { m } = run([ev(5, 'agent_status', { agentId: 'ag_1', status: 'running' }), ev(4, 'agent_status', { agentId: 'ag_1', status: 'error' })]);
    expect(m.agents.ag_1.status).toBe('running');
  });

  it("keeps agent_status's statusReason on the agent (the reason line of the agent page)", () => {
    const why = { code: 'approval_requested', text: 'approval ap_1 requested: Bash', at: 1000, ref: 'ap_1' };
    const { m } = run([ev(1, 'agent_status', { agentId: 'ag_1', status: 'waiting', reason: 'approval', statusReason: why })]);
    expect(m.agents.ag_1.statusReason).toEqual(why);
    const { m: m2 } = run([ev(2, 'agent_status', { agentId: 'ag_1', status: 'stopping', statusReason: 'not an object' })], m);
    expect(m2.agents.ag_1.statusReason).toEqual(why);
  });

  it("puts agent_summary's line on its agent, and nothing for an unknown agent or a bad payload (issue #76)", () => {
    const sm = { text: 'Waiting for your OK to push', at: '2026-11-29T12:00:00.000Z', turn: 'msg_9' };
    const { m } = run([ev(1, 'agent_summary', { agentId: 'ag_1', orgId: 'org_default', summary: sm })]);
    expect(m.agents.ag_1.summary).toEqual(sm);
    const { m: m2 } = run([ev(2, 'agent_summary', { agentId: 'ag_1', summary: { text: 42 } }), ev(3, 'agent_summary', { agentId: 'ag_2', summary: sm })], m);
    expect(m2.agents.ag_1.summary).toEqual(sm);
    expect(m2.agents.ag_2).toBeUndefined();
  });

  it('refuses malformed envelopes without throwing', () => {
    const base = { ...emptyModel(), agents: { ag_1: agent as any } };
    for (const bad of [null, {}, { seq: 'x', type: 'a' }, { seq: NaN, type: 'a' }, { seq: 1 }] as any[]) {
      const r = reduce(base, bad);
      expect(r.applied).toBe(false);
      expect(r.model).toBe(base);
    }
    const r = reduce(base, { seq: 1, type: 'agent_status', payload: null });
    expect(r.applied).toBe(true);
    expect(r.model.agents.ag_1.status).toBe('finished');
  });

  it('concatenates streaming deltas until isComplete, then starts a new chunk', () => {
    const { m } = run([
      ev(1, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'assistant', content: 'Hel', isComplete: false }),
      ev(2, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'assistant', content: 'lo', isComplete: false }),
      ev(3, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'assistant', content: '!', isComplete: true }),
      ev(4, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'assistant', content: 'Next', isComplete: false }),
    ]);
    const live = m.transcripts.ag_1.live;
    expect(live.map((c) => [c.text, c.open])).toEqual([
      ['Hello!', false],
      ['Next', true],
    ]);
  });

  it('replaces streamed text with the stored assistant message of the same run', () => {
    const { m } = run([
      ev(1, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'assistant', content: 'Hi there', isComplete: false }),
      ev(2, 'message_created', {
        message: { id: 'msg_1', agentId: 'ag_1', runId: 'run_1', role: 'assistant', content: 'Hi there', createdAt: '2026-11-21T10:00:02.000Z' },
      }),
    ]);
    expect(m.transcripts.ag_1.live).toEqual([]);
    expect(m.transcripts.ag_1.messages.map((x) => x.id)).toEqual(['msg_1']);
  });

  it('claude-style deltas on stdout are replaced by the stored message; complete lines stay', () => {
    const { m } = run([
      ev(1, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'stdout', content: 'a log line', isComplete: true }),
      ev(2, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'stdout', content: 'Hel', isComplete: false }),
      ev(3, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'stdout', content: 'lo', isComplete: false }),
      ev(4, 'message_created', {
        message: { id: 'msg_1', agentId: 'ag_1', runId: 'run_1', role: 'assistant', content: 'Hello', createdAt: '2026-11-21T10:00:04.000Z' },
      }),
    ]);
    expect(m.transcripts.ag_1.live.map((c) => c.text)).toEqual(['a log line']);
  });

  it('output lines stored later as an assistant message are not shown twice', () => {
    const out = (seq: number, text: string, runId = 'run_1') =>
      ev(seq, 'agent_output', { agentId: 'ag_1', runId, stream: 'stdout', content: text, isComplete: true });
    const { m } = run([
      out(1, 'tick 0'),
      out(2, 'tick 1'),
      out(3, 'other run', 'run_0'),
      out(4, 'tick 2'),
      ev(5, 'message_created', {
        message: { id: 'msg_1', agentId: 'ag_1', runId: 'run_1', role: 'assistant', content: 'tick 0\ntick 10\ntick 1', createdAt: '2026-11-21T10:00:05.000Z' },
      }),
    ]);
    expect(m.transcripts.ag_1.live.map((c) => c.text)).toEqual(['other run', 'tick 2']);
    expect(m.transcripts.ag_1.messages.map((x) => x.content)).toEqual(['tick 0\ntick 10\ntick 1']);
  });

  // A command agent's 16 numbered lines: live chunks and stored batches
  // that do not line up, in every order the page can get them in.
  describe('live and stored output are one sequence', () => {
    const lines = Array.from({ length: 16 }, (_, i) => `line ${i + 1}`);
    const out = (seq: number, from: number, to: number, stream = 'stdout') =>
      ev(seq, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream, content: lines.slice(from, to).join('\n'), isComplete: true });
    const stored = (seq: number, id: string, from: number, to: number, role = 'assistant') =>
      ev(seq, 'message_created', {
        message: {
          id,
          agentId: 'ag_1',
          runId: 'run_1',
          role,
          content: lines.slice(from, to).join('\n'),
          createdAt: `2026-11-21T10:00:${String(seq).padStart(2, '0')}.000Z`,
        },
      });
    // What the page shows, line by line, in order.
    const shown = (m: Model) => {
      const t = m.transcripts.ag_1;
      return [...t.messages.map((x) => x.content), ...t.live.map((c) => c.text)].join('\n').split('\n');
    };
    // Live chunks of 3 lines, stored batches of 5: boundaries never match.
    const liveEvs = [out(1, 0, 3), out(3, 3, 6), out(5, 6, 9), out(7, 9, 12), out(9, 12, 15), out(11, 15, 16)];
    const storedEvs = [stored(2, 'msg_01', 0, 5), stored(4, 'msg_02', 5, 10), stored(8, 'msg_03', 10, 15), stored(12, 'msg_04', 15, 16)];
    const all = [...liveEvs, ...storedEvs].sort((a, b) => a.seq - b.seq);

    it('every line once when the page saw the whole run', () => {
      expect(shown(run(all).m)).toEqual(lines);
    });

    it('every line once at every point of the run', () => {
      for (let k = 1; k <= all.length; k++) {
        const s = shown(run(all.slice(0, k)).m);
        expect(new Set(s).size).toBe(s.length);
      }
    });

    it('every line once when the fetch answered before the replayed events', () => {
      // The page fetched the stored rows, then the socket replayed the run.
      const fetched = storedEvs.map((e) => e.payload.message);
      const start: Model = {
        ...emptyModel(),
        agents: { ag_1: agent as any },
        transcripts: { ag_1: { messages: fetched, live: [], hasMore: false, cursor: null, loaded: true } },
      };
      expect(shown(run(all, start).m)).toEqual(lines);
    });

    it('every line once when the fetch answered after the events (page opened mid-run)', () => {
      // Events up to seq 9 were applied; then the fetch brings the first 10 lines.
      const { m } = run(all.filter((e) => e.seq <= 9));
      const t = m.transcripts.ag_1;
      const messages = mergeMessages(t.messages, [storedEvs[0].payload.message, storedEvs[1].payload.message]);
      const after = { ...m, transcripts: { ag_1: { ...t, messages, live: reconcileLive(messages, t.live) } } };
      expect(shown(after)).toEqual(lines.slice(0, 15));
      expect(
        shown(
          run(
            all.filter((e) => e.seq > 9),
            after,
          ).m,
        ),
      ).toEqual(lines);
    });

    it('a page that joined late (no replay of the first lines) shows the rest once', () => {
      const late = all.filter((e) => e.seq >= 7);
      const fetched = storedEvs.slice(0, 2).map((e) => e.payload.message);
      const start: Model = {
        ...emptyModel(),
        agents: { ag_1: agent as any },
        transcripts: { ag_1: { messages: fetched, live: [], hasMore: false, cursor: null, loaded: true } },
      };
      expect(shown(run(late, start).m)).toEqual(lines);
    });

    it("a failed command's error (stderr) shows once, stored as a system message", () => {
      const { m } = run([out(1, 0, 1, 'stderr'), stored(2, 'msg_err', 0, 1, 'system')]);
      expect(m.transcripts.ag_1.live).toEqual([]);
      expect(m.transcripts.ag_1.messages.map((x) => x.content)).toEqual(['line 1']);
    });

    it("a failed command's error shows once whatever arrives first: the stored row, the live lines or the fetch", () => {
      // stderr of two lines, live in two chunks, stored as one system row
      const errLive = [out(1, 0, 1, 'stderr'), out(3, 1, 2, 'stderr')];
      const errRow = stored(2, 'msg_err', 0, 2, 'system');
      const once = (m: Model) => {
        const s = shown(m);
        expect(s.filter((l) => l === 'line 1')).toHaveLength(1);
        expect(s.filter((l) => l === 'line 2')).toHaveLength(1);
        expect(m.transcripts.ag_1.live).toEqual([]);
      };
      once(run([errLive[0], errRow, errLive[1]]).m); // the row between the live lines
      once(run([errRow, ...errLive]).m); // the row before them (a replay after the event)
      // the fetch after the live lines (the page opened as the agent failed)
      const { m } = run(errLive);
      const t = m.transcripts.ag_1;
      const messages = mergeMessages(t.messages, [errRow.payload.message]);
      once({ ...m, transcripts: { ag_1: { ...t, messages, live: reconcileLive(messages, t.live) } } });
      // the fetch before the replay
      const start: Model = {
        ...emptyModel(),
        agents: { ag_1: agent as any },
        transcripts: { ag_1: { messages: [errRow.payload.message], live: [], hasMore: false, cursor: null, loaded: true } },
      };
      once(run(errLive, start).m);
    });

    it('keeps lines of another run, another stream, and repeated lines not stored yet', () => {
      const chunk = (runId: string, stream: string, text: string, seq: number): LiveChunk => ({ runId, stream, text, open: false, seq, ts: '' });
      const live = [chunk('run_0', 'stdout', 'a', 1), chunk('run_1', 'stderr', 'a', 2), chunk('run_1', 'stdout', 'a\na\nb', 3)];
      const messages = [{ ...msg('msg_1', '2026-11-21T10:00:04.000Z', 'a'), runId: 'run_1' }];
      expect(reconcileLive(messages, live).map((c) => c.text)).toEqual(['a', 'a', 'a\nb']);
    });
  });

  it('a denied tool call raises no red failed toast; a failing one does', () => {
    const start = ev(1, 'tool_start', { toolId: 'tu_1', name: 'Bash', agentId: 'ag_1', runId: 'run_1' });
    const decided = ev(2, 'approval_decided', {
      approval: { id: 'ap_1', agentId: 'ag_1', runId: 'run_1', toolName: 'Bash', toolUseId: 'tu_1', status: 'denied', decision: 'deny' },
    });
    const end = ev(3, 'tool_end', { toolId: 'tu_1', status: 'error', durationMs: 5 });
    const denied = run([start, decided, end]);
    expect(denied.effects.filter((e) => e.kind === 'toast' && e.level === 'error')).toEqual([]);
    expect(denied.m.tools.tu_1.status).toBe('denied');
    const allowed = run([start, ev(2, 'approval_decided', { approval: { ...decided.payload.approval, status: 'allowed', decision: 'allow' } }), end]);
    expect(allowed.effects.filter((e) => e.kind === 'toast' && e.level === 'error').map((e) => e.title)).toEqual(['Bash failed in 5 ms']);
    // the CLI hears the denial before it is stored: tool_end may come first,
    // and says so itself
    const early = run([start, { ...end, seq: 2, payload: { ...end.payload, denied: true } }]);
    expect(early.effects.filter((e) => e.kind === 'toast' && e.level === 'error')).toEqual([]);
    expect(early.m.tools.tu_1.status).toBe('denied');
  });

  it('a tool card held by a pending approval is matched by run, tool and input', () => {
    const call: Message = {
      ...msg('msg_t', '2026-11-21T10:00:01.000Z', ''),
      role: 'tool',
      runId: 'run_1',
      toolName: 'Bash',
      toolInput: { command: 'rm -rf x', timeout: 5 },
    };
    const ap = { id: 'ap_1', agentId: 'ag_1', runId: 'run_1', toolName: 'Bash', input: { timeout: 5, command: 'rm -rf x' }, status: 'pending', createdAt: '' };
    expect(awaitsApproval(call, [ap])).toBe(true);
    expect(awaitsApproval({ ...call, toolInput: JSON.stringify(call.toolInput) }, [ap])).toBe(true);
    expect(awaitsApproval(call, [{ ...ap, status: 'allowed' }])).toBe(false);
    expect(awaitsApproval(call, [{ ...ap, runId: 'run_2' }])).toBe(false);
    expect(awaitsApproval(call, [{ ...ap, toolName: 'Edit' }])).toBe(false);
    expect(awaitsApproval(call, [{ ...ap, input: { command: 'ls' } }])).toBe(false);
    expect(awaitsApproval(call, [])).toBe(false);
  });

  it('a message that arrives twice (REST page and event) is kept once', () => {
    const first = msg('msg_1', '2026-11-21T10:00:01.000Z');
    const start = {
      ...emptyModel(),
      agents: { ag_1: agent as any },
      transcripts: { ag_1: { messages: [first], live: [], hasMore: false, cursor: null, loaded: true } },
    };
    const { m } = run([ev(7, 'message_created', { message: first }), ev(8, 'message_created', { message: { ...first } })], start);
    expect(m.transcripts.ag_1.messages).toHaveLength(1);
  });

  it('toasts when an agent starts waiting or fails, not on repeats; notifies only when it needs the user', () => {
    const { effects, m } = run([
      ev(1, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(2, 'agent_status', { agentId: 'ag_1', status: 'waiting' }),
      ev(3, 'agent_status', { agentId: 'ag_1', status: 'waiting' }),
      ev(4, 'agent_status', { agentId: 'ag_1', status: 'error', reason: 'exit code 3' }),
    ]);
    expect(m.agents.ag_1.status).toBe('error');
    const toasts = effects.filter((e) => e.kind === 'toast').map((e) => e.title);
    expect(toasts).toEqual(['Builder is waiting for input', 'Builder failed']);
    // a turn done and a failure are no desktop notification (issue #32)
    expect(effects.filter((e) => e.kind === 'notify')).toEqual([]);
  });

  it('a desktop notification for an approval or a question, nothing else', () => {
    const { effects } = run([
      ev(1, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(2, 'agent_status', { agentId: 'ag_1', status: 'waiting', reason: 'question' }),
      ev(3, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(4, 'agent_status', { agentId: 'ag_1', status: 'waiting', reason: 'approval' }),
      ev(5, 'approval_requested', { approval: { id: 'ap_1', agentId: 'ag_1', toolName: 'Bash' } }),
      ev(6, 'agent_status', { agentId: 'ag_1', status: 'running' }),
      ev(7, 'agent_status', { agentId: 'ag_1', status: 'waiting', reason: 'turn' }),
      ev(8, 'agent_status', { agentId: 'ag_1', status: 'error', reason: 'exit code 1' }),
    ]);
    expect(effects.filter((e) => e.kind === 'notify').map((e) => (e as any).title)).toEqual(['Builder asks you', 'Builder needs approval']);
  });

  it('tracks tool calls from start to end with their duration', () => {
    const { m, effects } = run([
      ev(1, 'tool_start', { toolId: 't1', name: 'Bash', params: { command: 'ls' }, agentId: 'ag_1', runId: 'run_1' }),
      ev(2, 'tool_progress', { toolId: 't1', message: 'half way' }),
      ev(3, 'tool_end', { toolId: 't1', durationMs: 1500, status: 'success', exitCode: 0 }),
    ]);
    expect(m.tools.t1).toMatchObject({ name: 'Bash', status: 'success', durationMs: 1500, progress: 'half way' });
    expect(effects.filter((e) => e.kind === 'toast')).toEqual([]); // a tool that works needs nobody
  });

  it("run_started and run_ended ask for the agent's runs (and the run figures) again", () => {
    const { effects } = run([
      ev(1, 'run_started', { run: { id: 'run_1', agentId: 'ag_1', status: 'running' } }),
      ev(2, 'run_ended', { run: { id: 'run_1', agentId: 'ag_1', status: 'succeeded' } }),
    ]);
    expect(effects.filter((e) => e.kind === 'reloadRuns')).toEqual([
      { kind: 'reloadRuns', agentId: 'ag_1' },
      { kind: 'reloadRuns', agentId: 'ag_1' },
    ]);
  });

  it('a failed tool toasts, with its duration; nothing toasts for a call that works', () => {
    const { effects } = run([
      ev(1, 'tool_start', { toolId: 't1', name: 'pytest', agentId: 'ag_1' }),
      ev(2, 'tool_end', { toolId: 't1', durationMs: 700, status: 'error', exitCode: 3 }),
    ]);
    const toasts = effects.filter((e) => e.kind === 'toast') as any[];
    expect(toasts.map((e) => [e.title, e.level])).toEqual([['pytest failed in 700 ms', 'error']]);
  });

  it("the seed's own tool events (tool_id, tool, exit_code, duration in s) read as agentd's (issue #74)", () => {
    const start = { ...emptyModel(), agents: { ag_1: { ...agent, name: 'Scout' } as any } };
    const { m, effects } = run(
      [
        ev(1, 'tool_start', { tool_id: 'x1', tool: 'web_search', params: { q: 'a' }, agent_id: 'ag_1', run_id: 'run_1', agentId: 'ag_1', runId: 'run_1' }),
        ev(2, 'tool_end', { tool_id: 'x1', duration: 2, durationMs: 2000, status: 'error', exit_code: 1, agentId: 'ag_1', runId: 'run_1' }),
      ],
      start,
    );
    expect(m.tools.x1).toMatchObject({ name: 'web_search', status: 'error', exitCode: 1, durationMs: 2000, agentId: 'ag_1' });
    const toasts = effects.filter((e) => e.kind === 'toast') as any[];
    expect(toasts.map((e) => [e.title, e.body, e.agentId])).toEqual([['web_search failed in 2.0 s', 'Scout', 'ag_1']]);
    // a tool_end with no tool_start seen still names the tool and the agent
    const alone = run([ev(3, 'tool_end', { tool_id: 'x2', tool: 'fetch', duration: 1.5, status: 'failed', agent_id: 'ag_1' })], start);
    expect((alone.effects.filter((e) => e.kind === 'toast') as any[]).map((e) => [e.title, e.body])).toEqual([['fetch failed in 1.5 s', 'Scout']]);
  });

  it('an approval toast is dismissed once the approval is decided, here or anywhere (issue #74)', () => {
    const start = { ...emptyModel(), agents: { ag_1: { ...agent, name: 'Coder' } as any } };
    const asked = run([ev(1, 'approval_requested', { approval: { id: 'ap_1', agentId: 'ag_1', runId: 'run_1', toolName: 'Bash', status: 'pending' } })], start);
    const toast = asked.effects.find((e) => e.kind === 'toast') as any;
    expect(toast.key).toBe('approval:ag_1:ap_1');
    const decided = run([ev(2, 'approval_decided', { approval: { id: 'ap_1', agentId: 'ag_1', status: 'allowed', decision: 'allow' } })], start);
    expect(decided.effects.filter((e) => e.kind === 'dismissToast')).toEqual([{ kind: 'dismissToast', key: 'approval:ag_1:ap_1', prefix: false }]);
    // the run ended: every pending one of the agent goes
    const closed = run([ev(3, 'approval_updated', { agentId: 'ag_1', runId: 'run_1', status: 'expired' })], start);
    expect(closed.effects.filter((e) => e.kind === 'dismissToast')).toEqual([{ kind: 'dismissToast', key: 'approval:ag_1:', prefix: true }]);
  });

  it('merges a state patch into the agent state', () => {
    const start = { ...emptyModel(), agents: { ag_1: { ...agent, state: { command: ['x'], step: 1 } } as any } };
    const { m } = run([ev(1, 'agent_update', { id: 'ag_1', state: { step: 3, loss: 0.5 } })], start);
    expect(m.agents.ag_1.state).toEqual({ command: ['x'], step: 3, loss: 0.5 });
  });

  it('merges agent_update fields and asks for the tree when an unknown agent appears without a worktree', () => {
    const { m, effects } = run([ev(1, 'agent_update', { id: 'ag_1', name: 'Renamed', contextLevel: 42 }), ev(2, 'agent_update', { id: 'ag_9', name: 'x' })]);
    expect(m.agents.ag_1).toMatchObject({ name: 'Renamed', contextLevel: 42, worktreeId: 'wt_1' });
    expect(m.agents.ag_9).toBeUndefined();
    expect(effects.some((e) => e.kind === 'reloadTree')).toBe(true);
  });
});

describe('mergeMessages', () => {
  it('sorts by time then id and never repeats a message', () => {
    const a = msg('msg_a', '2026-11-21T10:00:01.000Z');
    const b = msg('msg_b', '2026-11-21T10:00:02.000Z');
    const c = msg('msg_c', '2026-11-21T10:00:03.000Z');
    const list = mergeMessages([b, c], [c, a]); // an older page that overlaps
    expect(list.map((m) => m.id)).toEqual(['msg_a', 'msg_b', 'msg_c']);
    expect(mergeMessages(list, [a, b, c])).toBe(list);
  });
  it('keeps the newer fields of a message seen twice', () => {
    const a = msg('msg_a', '2026-11-21T10:00:01.000Z', 'partial');
    const list = mergeMessages([a], [{ ...a, content: 'full', isComplete: true }]);
    expect(list).toHaveLength(1);
    expect(list[0].content).toBe('full');
  });
});

describe("a program's agent_update (issue #16)", () => {
  it('merges only its state patch, never its own status', async () => {
    const { reduce, emptyModel } = await import('../src/events');
    let m = emptyModel();
    m = { ...m, agents: { a1: { id: 'a1', name: 'A', status: 'running', worktreeId: 'w', state: { x: 1 } } as any } };
    const r = reduce(m, {
      seq: 1,
      type: 'agent_update',
      payload: { id: 'a1', source: 'program', status: 'training', step: 5, state: { status: 'training', step: 5 } },
    } as any);
    expect(r.model.agents.a1.status).toBe('running');
    expect((r.model.agents.a1.state as any).step).toBe(5);
    expect((r.model.agents.a1.state as any).x).toBe(1);
  });
});

describe('reapplyStatePatches', () => {
  const base = { ...agent, state: { command: ['node', 'train.js'] } };

  it('puts back the state patches a list read a moment earlier lacks', () => {
    const recent = [
      ev(7, 'agent_update', { id: 'ag_1', source: 'program', state: { step: 28, mind: { system1: { intent: 'collect' } } } }),
      ev(9, 'agent_update', { id: 'ag_1', source: 'program', state: { step: 29 } }),
    ];
    const listed: Model = { ...emptyModel(), lastSeq: 9, agents: { ag_1: { ...base } as any } };
    const m = reapplyStatePatches(listed, recent);
    expect(m.agents.ag_1.state).toEqual({ command: ['node', 'train.js'], step: 29, mind: { system1: { intent: 'collect' } } });
    expect(m.lastSeq).toBe(9);
  });

  it('applies no whole-row update again (an archive over a newer, restored row), nor to agents the list lacks', () => {
    const recent = [
      ev(1, 'agent_update', { ...agent, deletedAt: '2026-11-23T10:00:00.000Z' }),
      ev(2, 'agent_update', { ...agent }), // restored: deletedAt left out
      ev(3, 'agent_update', { id: 'ag_2', source: 'program', state: { step: 1 } }),
    ];
    const listed: Model = { ...emptyModel(), lastSeq: 3, agents: { ag_1: { ...agent } as any } };
    const m = reapplyStatePatches(listed, recent);
    expect(m.agents.ag_1.deletedAt).toBeUndefined();
    expect(m.agents.ag_2).toBeUndefined();
  });
});

describe('mergeAgentList', () => {
  const a1 = { id: 'ag_1', name: 'one', status: 'running' } as any;
  const a2 = { id: 'ag_2', name: 'two', status: 'idle' } as any;
  it('keeps an agent the model gained while the list was fetched', () => {
    const before = { ag_1: a1 };
    const now = { ag_1: a1, ag_2: a2 }; // opened (fetched) meanwhile
    const m = mergeAgentList(before, now, [a1]);
    expect(Object.keys(m).sort()).toEqual(['ag_1', 'ag_2']);
    expect(m.ag_2).toBe(a2);
  });
  it('drops an agent the list no longer has and nothing changed since', () => {
    const before = { ag_1: a1, ag_2: a2 };
    const m = mergeAgentList(before, { ...before }, [a1]);
    expect(Object.keys(m)).toEqual(['ag_1']);
  });
  it('keeps a status that came while the list was on its way', () => {
    const stale = { ...a1, status: 'running' };
    const waiting = { ...a1, status: 'waiting' }; // agent_status meanwhile
    const m = mergeAgentList({ ag_1: a1 }, { ag_1: waiting }, [stale]);
    expect(m.ag_1).toBe(waiting);
  });
  it('takes the list for what it has', () => {
    const fresh = { ...a1, status: 'waiting' };
    const m = mergeAgentList({ ag_1: a1 }, { ag_1: a1 }, [fresh]);
    expect(m.ag_1.status).toBe('waiting');
  });
});

describe('takeAgentAnswer', () => {
  const stopping = { ...agent, status: 'stopping', reason: null, name: 'Stubborn' } as any;
  it("a forced stop: the exit heard before the 202 stays, the answer's other fields are taken", () => {
    const was = stopping;
    const { m } = run([ev(7, 'agent_status', { agentId: 'ag_1', status: 'stopped', reason: 'killed' })], { ...emptyModel(), agents: { ag_1: was } });
    const answer = { ...stopping, name: 'Renamed', status: 'stopping', reason: null };
    const got = takeAgentAnswer(m.agents.ag_1, was, answer);
    expect(got.status).toBe('stopped');
    expect(got.reason).toBe('killed');
    expect(got.name).toBe('Renamed');
  });
  it('takes the whole answer when nothing came meanwhile, or when no was is given', () => {
    const answer = { ...stopping, status: 'stopped' };
    expect(takeAgentAnswer(stopping, stopping, answer).status).toBe('stopped');
    expect(takeAgentAnswer({ ...stopping, status: 'stopped' }, undefined, { ...stopping }).status).toBe('stopping');
  });
  it("an agent the model did not have: the answer; one it gained meanwhile keeps the stream's status", () => {
    expect(takeAgentAnswer(undefined, null, stopping)).toBe(stopping);
    const gained = { ...stopping, status: 'running' };
    expect(takeAgentAnswer(gained, null, { ...stopping, status: 'idle' }).status).toBe('running');
  });
});

// 100 agents streaming into a dashboard (bench/README.md, B1): a transcript
// no page has loaded keeps only its tail, whatever its agent writes.
describe('transcripts no page shows', () => {
  const lines = (n: number, from = 1) =>
    Array.from({ length: n }, (_, i) => ev(from + i, 'agent_output', { agentId: 'ag_1', runId: 'run_1', stream: 'stdout', content: `line ${i}` }));
  const stored = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) =>
      ev(from + i, 'message_created', {
        message: {
          id: `msg_${String(i).padStart(5, '0')}`,
          agentId: 'ag_1',
          runId: 'run_2',
          role: 'user',
          content: `asked ${i}`,
          createdAt: new Date(Date.UTC(2026, 10, 21, 11) + i * 1000).toISOString(),
        },
      }),
    );

  it('keep their latest output chunks and messages only', () => {
    const { m } = run([...lines(500), ...stored(300, 501)]);
    const t = m.transcripts.ag_1;
    expect(t.live).toHaveLength(MAX_LIVE_UNLOADED);
    expect(t.live[t.live.length - 1].text).toBe('line 499');
    expect(t.messages).toHaveLength(MAX_LIVE_UNLOADED);
    expect(t.messages[t.messages.length - 1].content).toBe('asked 299');
  });

  it('a loaded one keeps every line and message', () => {
    const start: Model = { ...emptyModel(), agents: { ag_1: agent as any }, transcripts: { ag_1: { ...emptyTranscript(), loaded: true } } };
    const { m } = run([...lines(500), ...stored(300, 501)], start);
    expect(m.transcripts.ag_1.live).toHaveLength(500);
    expect(m.transcripts.ag_1.messages).toHaveLength(300);
  });

  it('released, a loaded one goes back to its tail, but the open agent keeps all of its', () => {
    const loaded = { ...emptyTranscript(), loaded: true };
    const start: Model = { ...emptyModel(), agents: { ag_1: agent as any }, transcripts: { ag_1: loaded, ag_2: { ...loaded, live: [] } } };
    const { m } = run(lines(200), start);
    const kept = releaseTranscripts(m, 'ag_1');
    expect(kept.transcripts.ag_1).toBe(m.transcripts.ag_1);
    expect(kept.transcripts.ag_2.loaded).toBe(false);
    const gone = releaseTranscripts(m, null).transcripts.ag_1;
    expect(gone.loaded).toBe(false);
    expect(gone.live).toHaveLength(MAX_LIVE_UNLOADED);
    expect(gone.live[gone.live.length - 1].text).toBe('line 199');
  });
});

describe('the grid closed', () => {
  it("its tiles' messages go; a loaded transcript and every live tail stay", () => {
    const tile = {
      ...emptyTranscript(),
      messages: [msg('msg_1', '2026-11-21T10:00:00.000Z')],
      live: [{ runId: 'run_1', stream: 'stdout', text: 'x', open: false, seq: 1, ts: '' }],
    };
    const open = { ...tile, loaded: true };
    const m: Model = { ...emptyModel(), transcripts: { ag_1: tile, ag_2: open } };
    const r = releaseTiles(m);
    expect(r.transcripts.ag_1.messages).toEqual([]);
    expect(r.transcripts.ag_1.live).toBe(tile.live);
    expect(r.transcripts.ag_2).toBe(open);
    expect(releaseTiles(r)).toBe(r);
  });
});

describe('a followed transcript', () => {
  // Line i is read at T0 + i × 100 ms; the runner stores lines in blocks of
  // ten, each made a moment after its last line was read.
  const T0 = Date.UTC(2026, 10, 21, 12);
  const at = (ms: number) => new Date(T0 + ms).toISOString();
  const line = (i: number): Envelope => ({
    seq: i + 1,
    ts: at(i * 100),
    topic: 'agent:ag_1',
    type: 'agent_output',
    payload: { agentId: 'ag_1', runId: 'run_1', stream: 'stdout', content: `line ${i}` },
  });
  const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line(from + i));
  const block = (b: number): Message => ({
    ...msg(`msg_${String(b).padStart(5, '0')}`, at(b * 1000 + 950)),
    runId: 'run_1',
    content: Array.from({ length: 10 }, (_, i) => `line ${b * 10 + i}`).join('\n'),
  });
  const blocks = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => block(from + i));
  const loaded: Model = { ...emptyModel(), agents: { ag_1: agent as any }, transcripts: { ag_1: { ...emptyTranscript(), loaded: true } } };
  const shown = (t: { messages: Message[]; live: LiveChunk[] }) => [...t.messages.map((m) => m.content), ...t.live.map((c) => c.text)].join('\n');

  it('past its bound, a loaded one drops its oldest lines and says so; an unloaded one just keeps its tail', () => {
    const n = MAX_LIVE_CHUNKS + 100;
    const t = run(lines(0, n), loaded).m.transcripts.ag_1;
    expect(t.live).toHaveLength(MAX_LIVE_CHUNKS);
    expect(t.live[0].text).toBe('line 100');
    expect(t.dropped).toBe(true);
    expect(run(lines(0, n)).m.transcripts.ag_1.dropped).toBeFalsy();
  });

  it('read again at its newest page, it holds what is not stored yet, and paged back it shows every line once', () => {
    // Opened before the run with one old message; 2,500 lines stream and
    // the first 500 fall off the bound; the user sends a message meanwhile.
    const old = msg('msg_0old', at(-5000), 'an old answer');
    const sent = { ...msg('msg_9sent', at(2495 * 100 + 10), 'a question', 'user'), runId: 'run_1' };
    let t = run(lines(0, 2500), { ...loaded, transcripts: { ag_1: { ...emptyTranscript(), loaded: true, messages: [old] } } }).m.transcripts.ag_1;
    t = { ...t, messages: [...t.messages, sent] };
    expect(t.dropped).toBe(true);
    expect(shown(t)).not.toMatch(/\bline 499\b/); // the lines in between are not on the page
    // Lines 0-2489 are stored in 249 blocks; the newest page is the last 200.
    const f = withNewest(t, { messages: blocks(49, 249).reverse(), hasMore: true, nextCursor: 'c49' });
    expect(f.dropped).toBe(false);
    expect(f.cursor).toBe('c49');
    expect(f.hasMore).toBe(true);
    expect(f.messages.map((m) => m.id)).not.toContain('msg_0old'); // older than the page: read back by paging
    expect(f.messages.map((m) => m.id)).toContain('msg_9sent'); // heard of after the page was read
    expect(f.live.map((c) => c.text)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${2490 + i}`));
    // Scrolled up: the older page (store.ts, loadOlder) closes the rest.
    const messages = mergeMessages(f.messages, [...blocks(0, 49), old]);
    const all = shown({ messages, live: reconcileLive(messages, f.live) });
    for (let i = 0; i < 2500; i++) expect(all.match(new RegExp(`\\bline ${i}\\b`, 'g'))?.length, `line ${i}`).toBe(1);
  });

  it('slow output, a line a block: the lines older than the page leave the live chunks too', () => {
    const one = (i: number): Message => ({ ...msg(`msg_${String(i).padStart(5, '0')}`, at(i * 100 + 50), `line ${i}`), runId: 'run_1' });
    const t = run(lines(0, 300), loaded).m.transcripts.ag_1;
    const page = Array.from({ length: 200 }, (_, i) => one(299 - i)); // lines 100-299, newest first
    const f = withNewest(t, { messages: page, hasMore: true, nextCursor: 'c100' });
    expect(f.live).toEqual([]);
    const older = Array.from({ length: 100 }, (_, i) => one(i));
    const messages = mergeMessages(f.messages, older);
    const all = shown({ messages, live: reconcileLive(messages, f.live) });
    for (let i = 0; i < 300; i++) expect(all.match(new RegExp(`\\bline ${i}\\b`, 'g'))?.length, `line ${i}`).toBe(1);
  });

  it('the whole history in one page: nothing is left out, and older messages stay', () => {
    const old = msg('msg_0old', at(-5000), 'an old answer');
    const t = run(lines(0, 30), { ...loaded, transcripts: { ag_1: { ...emptyTranscript(), loaded: true, messages: [old] } } }).m.transcripts.ag_1;
    const f = withNewest(t, { messages: blocks(0, 2), hasMore: false, nextCursor: null });
    expect(f.messages.map((m) => m.id)).toEqual(['msg_0old', 'msg_00000', 'msg_00001']);
    expect(f.live.map((c) => c.text)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${20 + i}`));
  });
});
