// The new-task flow (issue #14): one dialog with the workspace, the base
// branch (the repository's local branches, from GET
// /api/worktrees/:main/branches), the worktree name (suggested from the
// prompt until edited), executor, mode, permissions and the first prompt.
// Submitting creates the worktree on a new branch from the base, creates
// the agent and starts it with the prompt, then opens the agent.
//
// Loaded when first opened.
//
// Nothing half-made is left where it can be avoided: the usage limits are
// checked before anything is created (429 is said in the dialog, with a
// way past it), names and the command are checked first, and when the
// agent cannot be created the new worktree is removed again at once. When
// the start fails after both exist, the dialog says so and offers to
// remove them (or to open the agent as it is).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError } from '../api';
import { go } from '../router';
import { agentRequest, loadTree, settings, upsertAgent, workspaces, worktrees } from '../store';
import { splitArgs, suggestName, uniqueName, worktreeNameOk } from '../tasks';
import type { Agent, Worktree } from '../types';
import { errText, executorFields, ExecutorModeRow, FormFooter, Modal, NodeField } from './common';
import { nodeFields } from '../nodes';
import { PermissionsField } from './Permissions';

/** After the start failed: what exists now and can be removed. */
interface Leftover {
  message: string;
  worktree: Worktree;
  agent: Agent;
}

function overLimit(l: any): string | null {
  for (const k of ['daily', 'monthly'] as const) {
    const p = l && l[k];
    if (p && p.exceeded)
      return `The ${k} usage limit is reached (${p.tokenLimit ? `${p.tokensUsed} of ${p.tokenLimit} tokens` : `$${Number(p.costUsedUsd).toFixed(2)} of $${Number(p.costLimitUsd).toFixed(2)}`}).`;
  }
  return null;
}

export default function NewTask({ workspaceId, onClose }: { workspaceId?: string; onClose: () => void }) {
  const wss = workspaces.value || [];
  const ws = useSignal(workspaceId || wss[0]?.id || '');
  const branches = useSignal<string[]>([]);
  const base = useSignal('');
  const prompt = useSignal('');
  const name = useSignal('');
  const nameEdited = useSignal(false);
  const executor = useSignal('claude');
  const mode = useSignal(String(settings.value.default_mode || 'regular'));
  const perms = useSignal<string[]>(['read']);
  const command = useSignal('');
  const terminal = useSignal(false);
  const node = useSignal(''); // '' here, '*' any node that fits, else a node's name
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const limitHit = useSignal(false); // the error is a usage limit: offer to go past it
  const leftover = useSignal<Leftover | null>(null);
  // The workspace's setup command when nobody approved it yet: shown, and
  // run in the new worktree only when this box is ticked.
  const setupCmd = useSignal<string | null>(null);
  const approveSetup = useSignal(false);
  useEffect(() => {
    setupCmd.value = null;
    approveSetup.value = false;
    if (!ws.value) return;
    api
      .workspaceSetup(ws.value)
      .then((s) => (setupCmd.value = s.setupCommand && !s.setupCommandApproved ? s.setupCommand : null))
      .catch(() => undefined);
  }, [ws.value]);

  const wts = (worktrees.value || []).filter((w) => w.workspaceId === ws.value);
  const main = wts.find((w) => w.isMain) || wts[0];
  useEffect(() => {
    branches.value = [];
    if (!main) return;
    api
      .branches(main.id)
      .then((b) => {
        branches.value = b.local;
        if (!b.local.includes(base.value)) base.value = b.current && b.local.includes(b.current) ? b.current : b.local[0] || '';
      })
      .catch((e) => (err.value = `Cannot list the branches: ${errText(e)}`));
  }, [main?.id]);

  const taken = [...wts.map((w) => w.name), ...branches.value];
  const shownName = nameEdited.value ? name.value : uniqueName(suggestName(prompt.value), taken);

  const create = async (force: boolean) => {
    const n = shownName.trim();
    if (!worktreeNameOk(n)) return void (err.value = 'Worktree name: letters, digits, dot, dash and underscore; not starting with a dot.');
    if (!main) return void (err.value = 'Choose a workspace.');
    const body: Record<string, unknown> = { ...executorFields(executor.value), ...nodeFields(node.value), mode: mode.value, permissions: perms.value, name: n };
    if (executor.value === 'command') {
      const argv = splitArgs(command.value);
      if (!argv.length) return void (err.value = 'Give the command to run.');
      body.command = argv;
      if (terminal.value) body.terminal = true;
    } else if (executor.value !== 'claude' && !executor.value.startsWith('acp:') && !prompt.value.trim()) {
      return void (err.value = `${executor.value} runs one prompt per run: give the first prompt.`);
    }
    busy.value = true;
    err.value = null;
    limitHit.value = false;
    let wt: Worktree;
    try {
      if (!force) {
        const over = overLimit(await api.usageLimits().catch(() => null));
        if (over) {
          limitHit.value = true;
          err.value = `${over} Nothing was created.`;
          return;
        }
      }
      wt = await api.createWorktree({ workspaceId: ws.value, name: n, branch: n, createBranch: true, ...(base.value ? { base: base.value } : {}) });
      if (approveSetup.value && (wt as any).setupCommandNeedsApproval) await api.approveSetup(wt.id);
      let agent: Agent;
      try {
        agent = await api.createAgent({ ...body, worktreeId: wt.id });
      } catch (e) {
        // Nothing runs in it yet: take the worktree back so a retry starts clean.
        await api.deleteWorktree(wt.id, true).catch(() => undefined);
        await loadTree();
        throw e;
      }
      upsertAgent(agent);
      try {
        await agentRequest(agent.id, () => api.start(agent.id, prompt.value.trim() || undefined, force));
      } catch (e) {
        await loadTree();
        leftover.value = { message: errText(e), worktree: wt, agent };
        limitHit.value = e instanceof ApiError && e.status === 429;
        return;
      }
      await loadTree();
      onClose();
      go(`/agents/${agent.id}`);
    } catch (e) {
      err.value = errText(e);
      limitHit.value = e instanceof ApiError && e.status === 429;
    } finally {
      busy.value = false;
    }
  };

  if (leftover.value) return <StartFailed left={leftover.value} limit={limitHit.value} onClose={onClose} />;
  return (
    <Modal title="New task" onClose={onClose}>
      <form
        class="form new-task"
        onSubmit={(e) => {
          e.preventDefault();
          void create(false);
        }}
      >
        <label>
          First prompt
          <textarea
            name="prompt"
            rows={4}
            value={prompt.value}
            onInput={(e) => (prompt.value = e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
                e.preventDefault();
                void create(false);
              }
            }}
            placeholder="What should the agent do?"
          />
        </label>
        <div class="form-row">
          {wss.length > 1 && (
            <label>
              Workspace
              <select name="workspace" value={ws.value} onChange={(e) => (ws.value = e.currentTarget.value)}>
                {wss.map((w) => (
                  <option key={w.id} value={w.id}>
                    {w.name || w.path}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label>
            Base branch
            <select name="base" value={base.value} onChange={(e) => (base.value = e.currentTarget.value)}>
              {branches.value.map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
          </label>
          <label>
            Worktree and branch
            <input
              name="worktree"
              value={shownName}
              onInput={(e) => {
                nameEdited.value = true;
                name.value = e.currentTarget.value;
              }}
              autocomplete="off"
              spellcheck={false}
            />
          </label>
        </div>
        <ExecutorModeRow executor={executor} mode={mode} />
        <NodeField value={node.value} onChange={(v) => (node.value = v)} />
        {executor.value === 'command' && (
          <>
            <label>
              Command <span class="muted">(the prompt goes to its standard input)</span>
              <input
                name="command"
                value={command.value}
                onInput={(e) => (command.value = e.currentTarget.value)}
                placeholder="node agent.js --flag"
                spellcheck={false}
              />
            </label>
            <label class="check">
              <input type="checkbox" name="terminal" checked={terminal.value} onChange={(e) => (terminal.value = e.currentTarget.checked)} /> Run in a terminal
            </label>
          </>
        )}
        {executor.value !== 'command' && <PermissionsField value={perms.value} onChange={(p) => (perms.value = p)} />}
        {setupCmd.value && (
          <label class="check setup-approval">
            <input type="checkbox" name="approve-setup" checked={approveSetup.value} onChange={(e) => (approveSetup.value = e.currentTarget.checked)} /> Approve
            and run the workspace’s setup command in the new worktree: <code>{setupCmd.value}</code>
          </label>
        )}
        {limitHit.value && (
          <button type="button" class="btn btn-danger" disabled={busy.value} onClick={() => void create(true)}>
            Create and start past the limit
          </button>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Create and start" busyLabel="Creating…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

// The start failed after the worktree and the agent were made.
function StartFailed({ left, limit, onClose }: { left: Leftover; limit: boolean; onClose: () => void }) {
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const remove = async () => {
    busy.value = true;
    err.value = null;
    try {
      await api.deleteAgent(left.agent.id, false);
      await api.deleteWorktree(left.worktree.id, true);
      await loadTree();
      onClose();
    } catch (e) {
      err.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  const open = () => {
    onClose();
    go(`/agents/${left.agent.id}`);
  };
  return (
    <Modal title="The agent did not start" onClose={onClose}>
      <div class="form start-failed">
        <div class="form-error" role="alert">
          {left.message}
        </div>
        <p>
          The worktree <code>{left.worktree.name}</code> and the agent <strong>{left.agent.name}</strong> were created
          {limit ? ' (a usage limit stopped the start)' : ''}. Remove both, or keep them and open the agent to start it later.
        </p>
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={open}>
            Keep and open the agent
          </button>
          <button type="button" class="btn btn-danger" disabled={busy.value} onClick={() => void remove()}>
            Remove the worktree and the agent
          </button>
        </div>
      </div>
    </Modal>
  );
}
