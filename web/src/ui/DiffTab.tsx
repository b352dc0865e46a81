// The Diff tab of an agent page: its worktree's working changes (against
// HEAD), or its work against the base branch (commits since the merge
// base, ahead/behind, per-file stats, patches), with Commit, Merge (merge,
// squash or rebase), Rebase and Push. A refusal that lists files (merge
// conflicts, a dirty target worktree, uncommitted work) is shown as a panel
// with the files; nothing was changed then. Reloads when the worktree
// tree reloads (worktree events do that), keeping what it shows meanwhile.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError } from '../api';
import { loadTree, toast, worktrees } from '../store';
import { go } from '../router';
import { ago, Empty, ErrorState, errText, Modal, Spinner } from './common';

interface DiffFile {
  path: string;
  insertions?: number;
  deletions?: number;
  status?: string;
  binary?: boolean;
}

interface Commit {
  id: string;
  shortId: string;
  summary: string;
  author?: string;
  time?: string;
}

interface Review {
  against: string;
  ahead: number;
  behind: number;
  uncommitted: number;
  commits: Commit[];
  files: DiffFile[];
  insertions: number;
  deletions: number;
  // Whether the work is in the base though git counts it ahead (a squash):
  // recorded by agentd, or found by its tree on the base.
  merged?: { merged: boolean; how?: string; record?: { strategy: string; into: string; createdAt: string } };
}

// A refusal worth showing in full: its message and the files it names.
interface Refusal {
  title: string;
  message: string;
  files: string[];
}

type View = 'working' | 'base';
type Strategy = 'merge' | 'squash' | 'rebase';

function refusalOf(what: string, e: unknown): Refusal | null {
  if (!(e instanceof ApiError) || e.status !== 409) return null;
  const d = e.details || {};
  const files: string[] = d.conflicts || d.changedFiles || [];
  const titles: Record<string, string> = {
    conflicts: `${what}: conflicts — nothing was changed`,
    target_dirty: `${what}: the target worktree has uncommitted changes`,
    uncommitted: `${what}: commit this worktree's changes first`,
    target_conflict: `${what}: an untracked file in the target worktree is in the way — nothing was changed`,
    moved: `${what}: the branch moved meanwhile — try again`,
  };
  return { title: titles[d.reason] || `${what} refused`, message: e.message, files };
}

function lineClass(l: string): string {
  if (l.startsWith('+') && !l.startsWith('+++')) return 'add';
  if (l.startsWith('-') && !l.startsWith('---')) return 'rem';
  return l.startsWith('@@') ? 'hunk' : '';
}

export function DiffTab({ worktreeId, agentId }: { worktreeId: string; agentId?: string }) {
  const view = useSignal<View>('working');
  const against = useSignal('base');
  const files = useSignal<DiffFile[] | null>(null);
  const review = useSignal<Review | null>(null);
  const err = useSignal<string | null>(null);
  const sel = useSignal<string | null>(null);
  const patch = useSignal<string | null>(null);
  const busy = useSignal(false);
  const refusal = useSignal<Refusal | null>(null);
  const committing = useSignal(false);
  const merging = useSignal(false);
  const wt = (worktrees.value || []).find((w) => w.id === worktreeId);
  const baseName = wt?.baseBranch || '';

  const load = (quiet = false) => {
    err.value = null;
    if (!quiet) {
      files.value = null;
      review.value = null;
    }
    const p =
      view.value === 'working'
        ? api.diff(worktreeId).then((d: any) => {
            files.value = (d?.files || []) as DiffFile[];
            review.value = null;
          })
        : api.review(worktreeId, against.value || 'base').then((d: any) => {
            review.value = d as Review;
            files.value = (d?.files || []) as DiffFile[];
          });
    p.then(() => {
      if (sel.value) open(sel.value); // the open patch may have changed too
    }).catch((e) => (err.value = errText(e)));
  };
  useEffect(() => load(), [worktreeId, view.value]);
  // A worktree event reloads the tree: follow it without a spinner.
  useEffect(() => {
    if (files.value !== null) load(true);
  }, [worktrees.value]);

  const open = (p: string) => {
    sel.value = p;
    patch.value = null;
    const req = view.value === 'working' ? api.diff(worktreeId, p) : api.review(worktreeId, against.value || 'base', p);
    req.then((d: any) => (patch.value = String(d?.patch ?? ''))).catch((e) => (patch.value = 'Could not load the patch: ' + errText(e)));
  };

  const act = async (what: string, f: () => Promise<any>, done: (r: any) => string) => {
    busy.value = true;
    refusal.value = null;
    try {
      const r = await f();
      toast('success', what, done(r));
      load(true);
    } catch (e) {
      const rf = refusalOf(what, e);
      if (rf) refusal.value = rf;
      else toast('error', what, errText(e));
    } finally {
      busy.value = false;
    }
  };

  const rebase = () =>
    act(
      'Rebase',
      () => api.rebaseWorktree(worktreeId, against.value !== 'base' ? against.value : undefined),
      (r) => (r.upToDate ? `Already on ${r.onto}` : `Rebased ${r.branch} onto ${r.onto}`),
    );
  const push = () =>
    act(
      'Push',
      () => api.pushWorktree(worktreeId),
      (r) => `Pushed ${r.branch} to ${r.remote}`,
    );

  return (
    <div class="diff-tab">
      <div class="diff-bar">
        <div class="seg" role="tablist" aria-label="Diff view">
          <button
            role="tab"
            aria-selected={view.value === 'working'}
            class={`seg-btn${view.value === 'working' ? ' active' : ''}`}
            onClick={() => (view.value = 'working')}
          >
            Working changes
          </button>
          <button
            role="tab"
            aria-selected={view.value === 'base'}
            class={`seg-btn${view.value === 'base' ? ' active' : ''}`}
            onClick={() => (view.value = 'base')}
          >
            Against base{baseName ? ` (${baseName})` : ''}
          </button>
        </div>
        {view.value === 'base' && (
          <form
            class="diff-against"
            onSubmit={(e) => {
              e.preventDefault();
              load();
            }}
          >
            <input
              aria-label="Compare against"
              value={against.value}
              onInput={(e) => (against.value = e.currentTarget.value)}
              placeholder="base, or a branch"
            />
          </form>
        )}
        <div class="diff-actions">
          <button class="btn btn-sm" disabled={busy.value} onClick={() => (committing.value = true)}>
            Commit…
          </button>
          <button class="btn btn-sm" disabled={busy.value} onClick={rebase}>
            Rebase
          </button>
          <button class="btn btn-sm btn-primary" disabled={busy.value} onClick={() => (merging.value = true)}>
            Merge…
          </button>
          <button class="btn btn-sm" disabled={busy.value} onClick={push}>
            Push
          </button>
        </div>
      </div>
      {refusal.value && (
        <div class="diff-refusal panel" role="alert">
          <div class="refusal-title">{refusal.value.title}</div>
          <div class="muted">{refusal.value.message}</div>
          {refusal.value.files.length > 0 && (
            <ul class="refusal-files">
              {refusal.value.files.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
          )}
          <button class="btn btn-sm" onClick={() => (refusal.value = null)}>
            Dismiss
          </button>
        </div>
      )}
      {review.value && <ReviewSummary r={review.value} />}
      {review.value?.merged?.merged && !wt?.isMain && (
        <div class="panel" role="status">
          <span>
            Merged into <code>{review.value.merged.record?.into || review.value.against}</code>
            {review.value.merged.record ? ` (${review.value.merged.record.strategy}, ${ago(review.value.merged.record.createdAt)})` : ' (found on the base)'}.
          </span>{' '}
          <button
            class="btn btn-sm btn-danger"
            disabled={busy.value}
            onClick={() =>
              void act(
                'Archive and remove',
                async () => {
                  if (agentId) await api.deleteAgent(agentId, true);
                  await api.deleteWorktree(worktreeId);
                  await loadTree();
                  go('/');
                },
                () => 'The agent is archived and the worktree removed',
              )
            }
          >
            Archive the agent and remove the worktree
          </button>
        </div>
      )}
      <DiffBody err={err.value} files={files.value} view={view.value} sel={sel.value} patch={patch.value} onRetry={() => load()} onOpen={open} />
      {committing.value && (
        <CommitDialog
          onClose={() => (committing.value = false)}
          onCommit={(message, all) => {
            committing.value = false;
            void act(
              'Commit',
              () => api.commitWorktree(worktreeId, message, all),
              (r) => `${r.shortId}: ${r.files?.length ?? 0} files`,
            );
          }}
        />
      )}
      {merging.value && (
        <MergeDialog
          into={against.value !== 'base' ? against.value : baseName}
          onClose={() => (merging.value = false)}
          onMerge={(strategy, message) => {
            merging.value = false;
            const into = against.value !== 'base' ? against.value : undefined;
            void act(
              'Merge',
              () => api.mergeWorktree(worktreeId, { into, strategy, message: message || undefined }),
              (r) => (r.upToDate ? `Nothing to merge: ${r.branch} is in ${r.into}` : `Merged ${r.branch} into ${r.into} (${r.strategy})`),
            );
          }}
        />
      )}
    </div>
  );
}

function ReviewSummary({ r }: { r: Review }) {
  return (
    <div class="review-summary panel glass">
      <div class="review-counts">
        <span>
          <b>{r.ahead}</b> ahead, <b>{r.behind}</b> behind <code>{r.against}</code>
        </span>
        <span class="ins">+{r.insertions}</span>
        <span class="del">−{r.deletions}</span>
        {r.uncommitted > 0 && <span class="muted">{r.uncommitted} uncommitted</span>}
      </div>
      {r.commits.length > 0 ? (
        <ul class="review-commits">
          {r.commits.map((c) => (
            <li key={c.id}>
              <code>{c.shortId}</code> <span class="summary">{c.summary}</span>{' '}
              <span class="muted">
                {c.author} · {ago(c.time)}
              </span>
            </li>
          ))}
        </ul>
      ) : (
        <div class="muted">No commits since {r.against}.</div>
      )}
    </div>
  );
}

function DiffBody(p: {
  err: string | null;
  files: DiffFile[] | null;
  view: View;
  sel: string | null;
  patch: string | null;
  onRetry: () => void;
  onOpen: (path: string) => void;
}) {
  if (p.err) return <ErrorState message={p.err} onRetry={p.onRetry} />;
  if (p.files === null) return <Spinner label="Loading diff…" />;
  if (p.files.length === 0)
    return <Empty title="No changes">{p.view === 'working' ? 'The worktree matches its branch’s last commit.' : 'Nothing differs from the base.'}</Empty>;
  return (
    <div class="diff">
      <ul class="diff-files panel glass">
        {p.files.map((f) => (
          <li key={f.path}>
            <button class={`diff-file${p.sel === f.path ? ' active' : ''}`} onClick={() => p.onOpen(f.path)}>
              <span class="path">{f.path}</span>
              <span class="ins">+{f.insertions ?? 0}</span>
              <span class="del">−{f.deletions ?? 0}</span>
            </button>
          </li>
        ))}
      </ul>
      <div class="diff-patch panel glass">
        {!p.sel && <div class="muted">Choose a file to see its changes.</div>}
        {p.sel && p.patch === null && <Spinner label="Loading patch…" />}
        {p.sel && p.patch !== null && (
          <pre class="patch">
            {p.patch.split('\n').map((l, i) => (
              <div key={i} class={lineClass(l)}>
                {l || ' '}
              </div>
            ))}
          </pre>
        )}
      </div>
    </div>
  );
}

function CommitDialog({ onClose, onCommit }: { onClose: () => void; onCommit: (message: string, all: boolean) => void }) {
  const message = useSignal('');
  const all = useSignal(true);
  return (
    <Modal title="Commit changes" onClose={onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (message.value.trim()) onCommit(message.value, all.value);
        }}
      >
        <label>
          Message
          <textarea name="message" rows={4} value={message.value} onInput={(e) => (message.value = e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={all.value} onChange={(e) => (all.value = e.currentTarget.checked)} /> Include every change (new and deleted files
          too), not only what is staged
        </label>
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={!message.value.trim()}>
            Commit
          </button>
        </div>
      </form>
    </Modal>
  );
}

const STRATEGIES: [Strategy, string][] = [
  ['merge', 'Merge commit: keeps every commit, joined by a merge commit'],
  ['squash', 'Squash: one commit with all the changes'],
  ['rebase', 'Rebase: replays the commits on the base, then fast-forwards it'],
];

function MergeDialog({ into, onClose, onMerge }: { into: string; onClose: () => void; onMerge: (s: Strategy, message: string) => void }) {
  const strategy = useSignal<Strategy>('merge');
  const message = useSignal('');
  return (
    <Modal title={`Merge into ${into || 'the base branch'}`} onClose={onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          onMerge(strategy.value, message.value);
        }}
      >
        <fieldset class="strategies">
          <legend>Strategy</legend>
          {STRATEGIES.map(([s, text]) => (
            <label key={s} class="check">
              <input type="radio" name="strategy" value={s} checked={strategy.value === s} onChange={() => (strategy.value = s)} /> {text}
            </label>
          ))}
        </fieldset>
        {strategy.value !== 'rebase' && (
          <label>
            Message <span class="muted">(optional)</span>
            <input name="message" value={message.value} onInput={(e) => (message.value = e.currentTarget.value)} />
          </label>
        )}
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary">
            Merge
          </button>
        </div>
      </form>
    </Modal>
  );
}
