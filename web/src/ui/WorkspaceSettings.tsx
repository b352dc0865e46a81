// A workspace's settings dialog (issue #14): its setup files (copied from
// the repository into each new worktree, e.g. .env) and setup command (run
// in each new worktree once approved; changing it needs the admin scope and
// a new approval), from GET|PUT /api/workspaces/:id/setup; and removing the
// workspace: DELETE /api/workspaces/:id archives its agents and takes it
// off the lists, never touching its files. While agents run the daemon
// refuses (409 with their ids); the dialog names them and offers to stop
// them first.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError } from '../api';
import { go } from '../router';
import { loadTree, model, toast, workspaces } from '../store';
import { errText, FormFooter, Modal, Spinner } from './common';

/** The setup files as the text area shows them: one path a line. */
export function filesText(files: string[]): string {
  return files.join('\n');
}
export function parseFiles(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\n,]/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
}

export default function WorkspaceSettings({ workspaceId, onClose }: { workspaceId: string; onClose: () => void }) {
  const ws = (workspaces.value || []).find((w) => w.id === workspaceId);
  const loaded = useSignal(false);
  const files = useSignal('');
  const command = useSignal('');
  const approved = useSignal(false);
  const savedCommand = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const removing = useSignal(false);
  useEffect(() => {
    api
      .workspaceSetup(workspaceId)
      .then((s) => {
        files.value = filesText(s.setupFiles || []);
        command.value = s.setupCommand || '';
        savedCommand.value = s.setupCommand || '';
        approved.value = !!s.setupCommandApproved;
        loaded.value = true;
      })
      .catch((e) => {
        err.value = errText(e);
        loaded.value = true;
      });
  }, [workspaceId]);
  const save = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      const body: { setupFiles: string[]; setupCommand?: string } = { setupFiles: parseFiles(files.value) };
      // Only a changed command is sent: an unchanged one needs no admin scope.
      if (command.value.trim() !== savedCommand.value) body.setupCommand = command.value.trim();
      const s = await api.putWorkspaceSetup(workspaceId, body);
      savedCommand.value = s.setupCommand || '';
      approved.value = !!s.setupCommandApproved;
      toast('success', 'Workspace setup saved', ws?.name);
      onClose();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  if (removing.value) return <RemoveWorkspace workspaceId={workspaceId} onClose={onClose} />;
  return (
    <Modal title={`Workspace ${ws?.name || ''}`} onClose={onClose}>
      {!loaded.value ? (
        <Spinner />
      ) : (
        <form class="form" onSubmit={save}>
          <p class="muted small">
            <code>{ws?.path}</code>
          </p>
          <label>
            Setup files <span class="muted">(one path a line, relative to the repository; copied into each new worktree, e.g. .env)</span>
            <textarea
              name="setup-files"
              rows={3}
              value={files.value}
              onInput={(e) => (files.value = e.currentTarget.value)}
              spellcheck={false}
              placeholder=".env"
            />
          </label>
          <label>
            Setup command <span class="muted">(run in each new worktree, after you approve it; e.g. npm ci)</span>
            <input name="setup-command" value={command.value} onInput={(e) => (command.value = e.currentTarget.value)} spellcheck={false} autocomplete="off" />
          </label>
          {savedCommand.value && (
            <p class="muted small" role="note">
              {approved.value ? 'This command is approved: it runs in each new worktree.' : 'Not approved yet: the next new worktree asks before running it.'}
            </p>
          )}
          <FormFooter err={err.value} busy={busy.value} label="Save setup" busyLabel="Saving…" onCancel={onClose} />
          <div class="danger-zone">
            <button type="button" class="btn btn-danger" onClick={() => (removing.value = true)}>
              Remove workspace…
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

function RemoveWorkspace({ workspaceId, onClose }: { workspaceId: string; onClose: () => void }) {
  const ws = (workspaces.value || []).find((w) => w.id === workspaceId);
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const running = useSignal<string[]>([]);
  const remove = async (stopFirst: boolean) => {
    busy.value = true;
    err.value = null;
    try {
      if (stopFirst) for (const id of running.value) await api.stop(id, true).catch(() => undefined);
      // A stopped run is recorded a moment after the stop answers: a few tries, bounded.
      for (let i = 0; ; i++) {
        try {
          await api.deleteWorkspace(workspaceId);
          break;
        } catch (e) {
          if (!stopFirst || i >= 10 || !(e instanceof ApiError && e.status === 409)) throw e;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      toast('success', 'Workspace removed', `${ws?.name || workspaceId}: its agents are archived, its files untouched.`);
      await loadTree();
      onClose();
      go('/');
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && Array.isArray(e.details?.agentIds)) running.value = e.details.agentIds.map(String);
      err.value = errText(e);
    } finally {
      busy.value = false;
    }
  };
  const names = running.value.map((id) => model.value.agents[id]?.name || id);
  return (
    <Modal title={`Remove workspace ${ws?.name || ''}?`} onClose={onClose}>
      <div class="form">
        <p>
          agentd forgets <code>{ws?.path}</code>: it leaves the sidebar and its agents are archived (their transcripts stay under Agents → Show archived). No
          file or branch is deleted. Adding the same path again brings it back.
        </p>
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
            {names.length > 0 && (
              <ul class="file-list">
                {names.map((n) => (
                  <li key={n}>{n}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          {running.value.length === 0 ? (
            <button type="button" class="btn btn-danger" disabled={busy.value} onClick={() => void remove(false)}>
              Remove workspace
            </button>
          ) : (
            <button type="button" class="btn btn-danger" disabled={busy.value} onClick={() => void remove(true)}>
              Stop them and remove
            </button>
          )}
        </div>
      </div>
    </Modal>
  );
}
