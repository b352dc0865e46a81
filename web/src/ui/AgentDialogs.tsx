// The agent page's dialogs: start with a prompt, fork (here or into a new
// worktree), and its permissions; and the usage-limit notice said before a
// start or a message is refused. Every change goes through the store.
import { useSignal } from '@preact/signals';
import { api } from '../api';
import { limitNotice, usageLimits, withLimitConfirm } from '../limits';
import { go } from '../router';
import { agentRequest, loadTree, toast, upsertAgent, worktrees } from '../store';
import type { Agent } from '../types';
import { errText, FormFooter, Modal } from './common';
import { PermissionsField } from './Permissions';

// Said before a start or a message is refused: a usage limit at 90 % or past.
export function LimitNotice() {
  const n = limitNotice(usageLimits.value);
  return n ? (
    <div class={`limit-notice limit-${n.level}`} role="status">
      {n.text}
    </div>
  ) : null;
}

// Fork here, or into a new worktree branched from this agent's branch.
export function ForkDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const wt = (worktrees.value || []).find((w) => w.id === agent.worktreeId);
  const name = useSignal(`${agent.name} (fork)`);
  const newWt = useSignal(false);
  const branch = useSignal(`${(wt?.branch || 'fork').replace(/[^A-Za-z0-9._/-]/g, '-')}-fork-${Date.now().toString(36).slice(-4)}`);
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      let worktreeId: string | undefined;
      if (newWt.value && wt) {
        const created = await api.createWorktree({
          workspaceId: wt.workspaceId,
          name: branch.value,
          branch: branch.value,
          createBranch: true,
          base: wt.branch,
        });
        worktreeId = created.id;
        await loadTree();
      }
      const f = await api.forkAgent(agent.id, name.value.trim() || undefined, worktreeId);
      upsertAgent(f);
      toast('success', 'Agent forked', f.name);
      onClose();
      go(`/agents/${f.id}`);
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Fork ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Name
          <input name="name" value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} autocomplete="off" />
        </label>
        <label class="check">
          <input type="checkbox" name="new-worktree" checked={newWt.value} disabled={!wt?.branch} onChange={(e) => (newWt.value = e.currentTarget.checked)} />{' '}
          In a new worktree branched from <code>{wt?.branch || 'this worktree'}</code>
        </label>
        {newWt.value && (
          <label>
            New branch
            <input name="branch" value={branch.value} onInput={(e) => (branch.value = e.currentTarget.value)} spellcheck={false} />
          </label>
        )}
        <FormFooter err={err.value} busy={busy.value} label="Fork" busyLabel="Forking…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

// The agent's permissions as checkboxes; they apply from its next start.
export function PermissionsDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const perms = useSignal<string[]>(Array.isArray(agent.permissions) ? agent.permissions : []);
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      upsertAgent(await api.patchAgent(agent.id, { permissions: perms.value }));
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Permissions of ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <PermissionsField value={perms.value} onChange={(p) => (perms.value = p)} />
        <p class="muted">Anything else the agent wants to do in the regular mode waits for your approval. Changes apply from the next start.</p>
        <FormFooter err={err.value} busy={busy.value} label="Save" busyLabel="Saving…" onCancel={onClose} />
      </form>
    </Modal>
  );
}

export function StartDialog({ agent, onClose }: { agent: Agent; onClose: () => void }) {
  const prompt = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      const a = await agentRequest(agent.id, () => withLimitConfirm((force) => api.start(agent.id, prompt.value.trim() || undefined, force)));
      if (a) onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title={`Start ${agent.name}`} onClose={onClose}>
      <form class="form" onSubmit={submit}>
        <label>
          Prompt <span class="muted">(optional)</span>
          <textarea
            name="prompt"
            rows={5}
            value={prompt.value}
            onInput={(e) => (prompt.value = e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) void submit(e);
            }}
            placeholder="What should the agent do?"
          />
        </label>
        <LimitNotice />
        <FormFooter err={err.value} busy={busy.value} label="Start agent" busyLabel="Starting…" onCancel={onClose} />
      </form>
    </Modal>
  );
}
