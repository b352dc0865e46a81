// The Projects page (issue #18), loaded lazily: projects with their saved
// messages and files; the files as a tree by folder with a viewer; a new
// project; Delete; Download .tar; Commit to a worktree (the files written
// into a worktree as one commit); a folder it is kept in sync with (the
// workbench seed's file sync), its changes shown live. Files come from chat answers (Chats:
// "Save files").
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Project, type ProjectSync } from '../api';
import { socket } from '../store';
import type { Envelope, Worktree } from '../types';
import { WorkbenchNav } from './WorkbenchNav';
import { go } from '../router';
import { fileTree } from '../workbench';
import { ago, Empty, errText, ErrorState, Spinner } from './common';

// Writes the project's files into a worktree (under a folder, or at its
// top) as one commit: POST /api/projects/:id/commit (an admin token).
function CommitToWorktree({ id, files }: { id: string; files: number }) {
  const wts = useSignal<Worktree[] | null>(null);
  const target = useSignal('');
  const folder = useSignal('');
  const message = useSignal('');
  const busy = useSignal(false);
  const msg = useSignal<string | null>(null);
  const err = useSignal<string | null>(null);
  const open = async () => {
    try {
      wts.value = await api.worktrees();
      target.value = wts.value[0]?.id || '';
    } catch (e) {
      err.value = errText(e);
    }
  };
  const commit = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = msg.value = null;
    try {
      const body: Record<string, unknown> = { worktreeId: target.value };
      if (folder.value.trim()) body.path = folder.value.trim().replace(/\/+$/, '');
      if (message.value.trim()) body.message = message.value.trim();
      const r = await api.commitProject(id, body);
      msg.value = `Committed ${r.shortId}${r.branch ? ` on ${r.branch}` : ''}: ${r.files.length} file${r.files.length === 1 ? '' : 's'}.`;
    } catch (x) {
      const d = (x as any).details || {};
      err.value = errText(x) + (Array.isArray(d.changedFiles) ? ` (${d.changedFiles.join(', ')})` : '');
    } finally {
      busy.value = false;
    }
  };
  if (files === 0) return null;
  if (wts.value === null)
    return (
      <button class="btn btn-sm" onClick={() => void open()}>
        Commit to a worktree…
      </button>
    );
  return (
    <form class="panel glass row-form" aria-label="Commit to a worktree" onSubmit={commit}>
      <label class="field">
        <span>Worktree</span>
        <select value={target.value} onChange={(e) => (target.value = e.currentTarget.value)}>
          {wts.value.map((w) => (
            <option key={w.id} value={w.id}>
              {w.name}
              {w.branch ? ` (${w.branch})` : ''} · {w.path}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>Folder in it (optional)</span>
        <input value={folder.value} onInput={(e) => (folder.value = e.currentTarget.value)} placeholder="e.g. site" spellcheck={false} />
      </label>
      <label class="field">
        <span>Commit message (optional)</span>
        <input value={message.value} onInput={(e) => (message.value = e.currentTarget.value)} />
      </label>
      <button class="btn btn-primary btn-sm" type="submit" disabled={busy.value || !target.value}>
        Commit files
      </button>
      {msg.value && (
        <p class="small" data-testid="commit-result">
          {msg.value}
        </p>
      )}
      {err.value && <p class="error-text">{err.value}</p>}
    </form>
  );
}

// The folder a project is kept in sync with (PUT/DELETE /api/projects/:id/sync:
// an admin, a folder under the daemon's --project-sync-roots): its files are
// written there as they change, and what changes there comes back.
function FolderSync({ id }: { id: string }) {
  const sync = useSignal<ProjectSync | null>(null);
  const editing = useSignal(false);
  const path = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    sync.value = null;
    editing.value = false;
    err.value = null;
    api
      .projectSync(id)
      .then((s) => (sync.value = s))
      .catch((e) => (err.value = errText(e)));
  }, [id]);
  const act = async (f: () => Promise<ProjectSync>) => {
    busy.value = true;
    err.value = null;
    try {
      sync.value = await f();
      editing.value = false;
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  const s = sync.value;
  return (
    <div class="folder-sync row-form" role="group" aria-label="Folder sync">
      {s?.path ? (
        <>
          <span class="small">
            In sync with <code>{s.path}</code>
            {s.syncedAt ? ` · read ${ago(s.syncedAt)}` : ''}
          </span>
          <button class="btn btn-sm" disabled={busy.value} onClick={() => void act(() => api.stopProjectSync(id))}>
            Stop syncing
          </button>
        </>
      ) : editing.value ? (
        <form
          class="row-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act(() => api.setProjectSync(id, path.value.trim()));
          }}
        >
          <label class="field">
            <span>Folder (absolute, under the daemon's sync roots)</span>
            <input name="sync-path" class="mono" value={path.value} onInput={(e) => (path.value = e.currentTarget.value)} spellcheck={false} />
          </label>
          <button class="btn btn-primary btn-sm" type="submit" disabled={busy.value || !path.value.trim()}>
            Keep in sync
          </button>
          <button class="btn btn-sm" type="button" onClick={() => (editing.value = false)}>
            Cancel
          </button>
        </form>
      ) : (
        s && (
          <button class="btn btn-sm" onClick={() => (editing.value = true)}>
            Keep in sync with a folder…
          </button>
        )
      )}
      {err.value && (
        <p class="error-text" role="alert">
          {err.value}
        </p>
      )}
    </div>
  );
}

function ProjectView({ id }: { id: string }) {
  const p = useSignal<Project | null>(null);
  const open = useSignal<string | null>(null);
  const err = useSignal<string | null>(null);
  const load = (first: boolean) =>
    api
      .project(id)
      .then((x) => {
        p.value = x;
        const keep = !first && (x.files || []).some((f) => f.path === open.value);
        if (!keep) open.value = x.files && x.files.length > 0 ? x.files[0].path : null;
      })
      .catch((e) => (err.value = errText(e)));
  useEffect(() => {
    p.value = null;
    open.value = null;
    void load(true);
    // files that change elsewhere (a synced folder, another tab) come in
    return socket.subscribe([`project:${id}`], {
      onEvent: (ev: Envelope) => {
        if (ev.type === 'project_update') void load(false);
      },
      onResync: () => void load(false),
    });
  }, [id]);
  if (err.value) return <ErrorState message={err.value} />;
  if (!p.value) return <Spinner label="Loading the project…" />;
  const x = p.value;
  const file = (x.files || []).find((f) => f.path === open.value);
  const remove = async () => {
    if (!confirm(`Delete the project ${x.name} with its messages and files?`)) return;
    try {
      await api.deleteProject(id);
      go('/projects');
    } catch (e) {
      err.value = errText(e);
    }
  };
  return (
    <section class="project-view" aria-label={`Project ${x.name}`}>
      <div class="page-head">
        <h2 class="panel-title">{x.name}</h2>
        <a class="btn btn-sm" href={`/api/projects/${encodeURIComponent(id)}/archive`} download>
          Download .tar
        </a>
        <button class="btn btn-danger btn-sm" onClick={() => void remove()}>
          Delete
        </button>
      </div>
      {x.description && <p class="muted">{x.description}</p>}
      <CommitToWorktree id={id} files={(x.files || []).length} />
      <FolderSync id={id} />
      <div class="project-grid">
        <ul class="file-tree panel glass" aria-label="Files">
          {(x.files || []).length === 0 && <li class="muted">No files yet.</li>}
          {fileTree((x.files || []).map((f) => f.path)).map(([depth, label, path]) => (
            <li key={(path || '') + label + depth} style={{ paddingLeft: `${depth * 14 + 6}px` }} class={path && path === open.value ? 'active' : ''}>
              {path ? (
                <button class="linkish" onClick={() => (open.value = path)}>
                  {label}
                </button>
              ) : (
                <span class="muted">{label}</span>
              )}
            </li>
          ))}
        </ul>
        <div>
          {file ? (
            <figure class="file-view">
              <figcaption class="small muted">
                {file.path} · {file.size} bytes
              </figcaption>
              <pre class="out" data-testid="file-content">
                {file.content}
              </pre>
            </figure>
          ) : (
            <Empty title="No file open" />
          )}
          <h3 class="small muted">Messages ({(x.messages || []).length})</h3>
          <div class="chat-log panel glass scroll">
            {(x.messages || []).map((m) => (
              <div key={m.position} class={`chat-msg chat-${m.role === 'user' ? 'user' : 'assistant'}`}>
                <div class="chat-role small muted">{m.role}</div>
                <div class="chat-text">{m.content}</div>
              </div>
            ))}
          </div>
        </div>
      </div>
    </section>
  );
}

export default function ProjectsPage({ id }: { id?: string }) {
  const list = useSignal<Project[] | null>(null);
  const err = useSignal<string | null>(null);
  const name = useSignal('');
  const load = async () => {
    try {
      list.value = (await api.projects()).projects;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => void load(), [id]);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const p = await api.createProject({ name: name.value.trim() });
      name.value = '';
      await load();
      go(`/projects/${p.id}`);
    } catch (x) {
      err.value = errText(x);
    }
  };
  return (
    <div class="page">
      <div class="page-head">
        <h1 class="page-title">Projects</h1>
        <WorkbenchNav at="projects" />
      </div>
      {err.value && <ErrorState message={err.value} onRetry={() => void load()} />}
      <div class="chats-grid">
        <aside>
          <form class="panel glass new-project" onSubmit={create}>
            <label class="field">
              <span>New project</span>
              <input value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} placeholder="name" />
            </label>
            <button class="btn btn-primary" type="submit" disabled={name.value.trim() === ''}>
              Create
            </button>
          </form>
          <ul class="chat-list" aria-label="Projects">
            {(list.value || []).map((p) => (
              <li key={p.id} class={p.id === id ? 'active' : ''}>
                <a href={`#/projects/${p.id}`}>{p.name}</a>
                <span class="muted small">
                  {' '}
                  {p.fileCount || 0} files · {ago(p.updatedAt)}
                </span>
              </li>
            ))}
          </ul>
        </aside>
        <div>{id ? <ProjectView id={id} /> : <Empty title="Pick a project" />}</div>
      </div>
    </div>
  );
}
