// The sidebar's dialogs: add a workspace by path, create a worktree, delete
// one (showing the server's refusal when it has uncommitted work), create
// an agent (a Claude Code agent optionally from an agent definition). Each
// is a view with its own form state; the sidebar opens them (useSidebar).
import { useSignal } from '@preact/signals';
import { PermissionsField } from './Permissions';
import { api, ApiError, type Definition } from '../api';
import { DefinitionOptions, useDefinitions } from './useDefinitions';
import { go } from '../router';
import { loadTree, model, settings, toast, upsertAgent } from '../store';
import { removalLabel, removalText, worktreeAgents } from '../worktreeRemoval';
import type { Worktree } from '../types';
import { errText, executorFields, ExecutorModeRow, FormFooter, Modal, NodeField } from './common';
import { nodeFields } from '../nodes';
import { splitArgs } from '../tasks';

export function AddWorkspace({ onClose }: { onClose: () => void }) {
  const path = useSignal('');
  const name = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!path.value.trim()) {
      err.value = 'Give the path of a git repository.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const w = await api.addWorkspace(path.value.trim(), name.value.trim() || undefined);
      toast('success', 'Workspace added', w.name || w.path);
      await loadTree();
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title="Add workspace" onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          Repository path
          <input
            name="path"
            value={path.value}
            onInput={(e) => (path.value = e.currentTarget.value)}
            placeholder="/home/me/src/project"
            autocomplete="off"
            spellcheck={false}
          />
        </label>
        <label>
          Name <span class="muted">(optional)</span>
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} />
        </label>
        <FormFooter err={err.value} busy={busy.value} label="Add workspace" busyLabel="Adding…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

export function NewWorktree({ workspaceId, onClose }: { workspaceId: string; onClose: () => void }) {
  const name = useSignal('');
  const branch = useSignal('');
  const create = useSignal(true);
  const base = useSignal(''); // the branch a new branch starts from (and merges back into)
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  // A setup command nobody approved yet: shown, and run only when asked.
  const pending = useSignal<{ id: string; command: string } | null>(null);
  const approve = async () => {
    if (!pending.value) return;
    busy.value = true;
    err.value = null;
    try {
      await api.approveSetup(pending.value.id);
      toast('success', 'Setup command approved', 'It runs in the new worktree now.');
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!/^[A-Za-z0-9._-]+$/.test(n) || n.startsWith('.')) {
      err.value = 'Name: letters, digits, dot, dash and underscore; not starting with a dot.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const wt: any = await api.createWorktree({
        workspaceId,
        name: n,
        branch: branch.value.trim() || n,
        createBranch: create.value,
        ...(create.value && base.value.trim() ? { base: base.value.trim() } : {}),
      });
      toast('success', 'Worktree created', n);
      await loadTree();
      if (wt && wt.setupCommandNeedsApproval && typeof wt.setupCommand === 'string') {
        pending.value = { id: wt.id, command: wt.setupCommand };
        return;
      }
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  if (pending.value) {
    return (
      <Modal title="Run the setup command?" onClose={onClose}>
        <div class="form setup-approval">
          <p>This workspace runs a setup command in each new worktree. agentd has not run it yet: it runs only once you approve this exact command.</p>
          <pre class="setup-command">{pending.value.command}</pre>
          {err.value && (
            <div class="form-error" role="alert">
              {err.value}
            </div>
          )}
          <div class="form-actions">
            <button type="button" class="btn" onClick={onClose}>
              Not now
            </button>
            <button type="button" class="btn btn-primary" disabled={busy.value} onClick={() => void approve()}>
              {busy.value ? 'Starting…' : 'Approve and run'}
            </button>
          </div>
        </div>
      </Modal>
    );
  }
  return (
    <Modal title="New worktree" onClose={onClose}>
      <form onSubmit={submit} class="form">
        <label>
          Name
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} placeholder="feature-x" autocomplete="off" />
        </label>
        <label>
          Branch <span class="muted">(defaults to the name)</span>
          <input name="branch" value={branch.value} onInput={(e) => (branch.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <fieldset class="radio-row">
          <legend>Branch is</legend>
          <label>
            <input type="radio" name="create" checked={create.value} onChange={() => (create.value = true)} /> new (from HEAD)
          </label>
          <label>
            <input type="radio" name="create" checked={!create.value} onChange={() => (create.value = false)} /> existing
          </label>
        </fieldset>
        {create.value && (
          <label>
            Base branch <span class="muted">(where it starts and merges back; defaults to the main worktree’s branch)</span>
            <input name="base" value={base.value} onInput={(e) => (base.value = e.currentTarget.value)} placeholder="main" autocomplete="off" />
          </label>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Create worktree" busyLabel="Creating…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

function changedFiles(details: any): string[] {
  if (!details || typeof details !== 'object') return [];
  for (const k of ['files', 'changedFiles', 'changed', 'modified', 'paths']) {
    const v = details[k];
    if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : x && (x.path || x.file) ? String(x.path || x.file) : JSON.stringify(x)));
  }
  return [];
}

export function DeleteWorktree({ wt, onClose }: { wt: Worktree; onClose: () => void }) {
  const busy = useSignal(false);
  const refusal = useSignal<{ message: string; files: string[]; running: boolean } | null>(null);
  const err = useSignal<string | null>(null);
  const stopAgreed = useSignal(false);
  const { all, running } = worktreeAgents(model.value.agents, wt.id);
  // What was agreed to so far: the agents named here stopped (stop), the
  // changes agentd listed lost (force).
  const del = async (force: boolean) => {
    busy.value = true;
    err.value = null;
    if (refusal.value?.running) stopAgreed.value = true;
    const stop = running.length > 0 || stopAgreed.value;
    try {
      await api.deleteWorktree(wt.id, force, stop);
      toast('success', 'Worktree removed', `${wt.name}: ${all.length === 1 ? 'its agent' : `its ${all.length} agents`} archived`);
      await loadTree();
      onClose();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409)
        refusal.value = { message: e.message, files: changedFiles(e.details), running: e.details?.reason === 'agents_running' };
      else err.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Remove worktree ${wt.name}?`} onClose={onClose}>
      <div class="form">
        {!refusal.value && <p>{removalText(wt, all, running)}</p>}
        {refusal.value && (
          <div class="refusal" role="alert">
            <strong>agentd refused:</strong> {refusal.value.message}
            {refusal.value.files.length > 0 && (
              <ul class="file-list">
                {refusal.value.files.slice(0, 50).map((f) => (
                  <li key={f}>
                    <code>{f}</code>
                  </li>
                ))}
                {refusal.value.files.length > 50 && <li class="muted">…and {refusal.value.files.length - 50} more</li>}
              </ul>
            )}
          </div>
        )}
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          {!refusal.value ? (
            <button class="btn btn-danger" disabled={busy.value} onClick={() => void del(false)}>
              {removalLabel(all, running)}
            </button>
          ) : refusal.value.running ? (
            <button class="btn btn-danger" disabled={busy.value} onClick={() => void del(false)}>
              Stop them, archive the agents and remove the worktree
            </button>
          ) : (
            <button class="btn btn-danger" disabled={busy.value} onClick={() => void del(true)}>
              Remove anyway, losing these changes
            </button>
          )}
        </div>
      </div>
    </Modal>
  );
}

export function NewAgent({ wt, onClose }: { wt: Worktree; onClose: () => void }) {
  const name = useSignal('');
  const executor = useSignal('claude');
  const mode = useSignal(String(settings.value.default_mode || 'regular'));
  const perms = useSignal<string[]>(['read']);
  const command = useSignal('');
  const terminal = useSignal(false);
  const node = useSignal(''); // where it runs: '' here, '*' any node that fits, else a node
  const definition = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = {
      worktreeId: wt.id,
      ...executorFields(executor.value),
      ...nodeFields(node.value),
      mode: mode.value,
      permissions: perms.value,
    };
    if (name.value.trim()) body.name = name.value.trim();
    if (executor.value === 'claude' && definition.value) body.definition = definition.value;
    if (executor.value === 'command') {
      const argv = splitArgs(command.value);
      if (!argv.length) {
        err.value = 'Give the command to run.';
        return;
      }
      body.command = argv;
      if (terminal.value) body.terminal = true;
    }
    busy.value = true;
    err.value = null;
    try {
      const a = await api.createAgent(body);
      upsertAgent(a);
      onClose();
      go(`/agents/${a.id}`);
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`New agent in ${wt.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Name <span class="muted">(optional)</span>
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <ExecutorModeRow executor={executor} mode={mode} />
        <NodeField value={node.value} onChange={(v) => (node.value = v)} />
        {executor.value === 'claude' && (
          <DefinitionPicker
            value={definition.value}
            onPick={(d) => {
              definition.value = d ? d.name : '';
              if (d && d.tools && d.tools.length) perms.value = d.tools;
            }}
          />
        )}
        <PermissionsField value={perms.value} onChange={(p) => (perms.value = p)} />
        {executor.value === 'command' && (
          <>
            <label>
              Command
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
        <FormFooter err={err.value} busy={busy.value} label="Create agent" busyLabel="Creating…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

// The agent definitions (GET /api/definitions, kept current by
// definitions_changed): the one picked gives the agent its system prompt,
// model and tools. Shows nothing when there are none.
function DefinitionPicker({ value, onPick }: { value: string; onPick: (d: Definition | null) => void }) {
  const { defs } = useDefinitions();
  if (defs.value.length === 0) return null;
  const cur = defs.value.find((d) => d.name === value);
  return (
    <label>
      Agent definition <span class="muted">(its prompt, model and tools)</span>
      <select name="definition" value={value} onChange={(e) => onPick(defs.value.find((d) => d.name === e.currentTarget.value) || null)}>
        <DefinitionOptions defs={defs.value} />
      </select>
      {cur && (
        <span class="muted small" data-testid="definition-summary">
          {[cur.description, cur.model && `model ${cur.model}`].filter(Boolean).join(' · ')}
        </span>
      )}
    </label>
  );
}
