// "Run in sandbox" under a chat answer with runnable code (coderun.ts): the
// block runs as a command agent in the chosen worktree and its output
// streams back under the answer (followRun: agent_output on agent:<id>,
// then the stored output once the run ends).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { commandFor, followRun, runnableBlocks } from '../coderun';
import { socket, worktrees } from '../store';
import { errText } from './common';

// Mounted once the agent is made; it starts the agent itself, after its
// subscription is in place.
function RunOutput({ agentId }: { agentId: string }) {
  const out = useSignal('');
  const status = useSignal('starting');
  const err = useSignal<string | null>(null);
  useEffect(
    () =>
      followRun(
        agentId,
        {
          subscribe: (topics, c) => socket.subscribe(topics, c),
          start: (id) => api.start(id),
          status: async (id) => (await api.agent(id)).status,
          output: async (id) => (await api.messages(id, 500)).messages.map((m) => m.content || '').join('\n'),
        },
        {
          output: (t) => (out.value = t),
          status: (s) => (status.value = s),
          error: (x) => (err.value = errText(x)),
        },
      ),
    [agentId],
  );
  return (
    <div class="code-run" data-status={status.value}>
      <div class="small muted">
        sandboxed run · <a href={`#/agents/${agentId}`}>{status.value}</a>
        {err.value && <span class="error-text"> {err.value}</span>}
      </div>
      <pre class="out" data-testid="run-output">
        {out.value}
      </pre>
    </div>
  );
}

export function RunCode({ content }: { content: string }) {
  const blocks = runnableBlocks(content);
  const open = useSignal(false);
  const wt = useSignal('');
  const which = useSignal(0);
  const agentId = useSignal<string | null>(null);
  const err = useSignal<string | null>(null);
  if (!blocks.length) return null;
  const wts = worktrees.value || [];
  const run = async () => {
    err.value = null;
    const b = blocks[which.value];
    const target = wt.value || wts[0]?.id;
    if (!b || !target) {
      err.value = 'Pick a worktree to run it in (add a workspace first).';
      return;
    }
    try {
      const a = await api.createAgent({ worktreeId: target, name: `chat run (${b.lang})`, executor: 'command', command: commandFor(b) });
      agentId.value = a.id; // RunOutput starts it
    } catch (x) {
      err.value = errText(x);
    }
  };
  return (
    <div class="small run-code">
      {!open.value ? (
        <button class="btn btn-sm" type="button" onClick={() => (open.value = true)}>
          Run in sandbox…
        </button>
      ) : (
        <span>
          {blocks.length > 1 && (
            <select aria-label="Code block" value={String(which.value)} onChange={(e) => (which.value = Number(e.currentTarget.value))}>
              {blocks.map((b, i) => (
                <option key={i} value={String(i)}>
                  block {i + 1} ({b.lang})
                </option>
              ))}
            </select>
          )}{' '}
          <select aria-label="Worktree to run in" value={wt.value || wts[0]?.id || ''} onChange={(e) => (wt.value = e.currentTarget.value)}>
            {wts.map((t) => (
              <option key={t.id} value={t.id}>
                {t.name}
              </option>
            ))}
          </select>{' '}
          <button class="btn btn-sm btn-primary" type="button" onClick={() => void run()}>
            Run
          </button>
        </span>
      )}
      {err.value && <span class="error-text"> {err.value}</span>}
      {agentId.value && <RunOutput agentId={agentId.value} />}
    </div>
  );
}
