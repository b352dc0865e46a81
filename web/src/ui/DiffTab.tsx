// The Diff tab of an agent page: its worktree's working changes (against
// HEAD), or its work against the base branch (commits since the merge
// base, ahead/behind, per-file stats, patches), with Commit, Merge (merge,
// squash or rebase), Rebase, Push and a pull request. Patches show unified
// or side by side (remembered), with line numbers and syntax colours; new
// and untracked files are marked and the first file is open. Comments left
// on lines go to the agent as one message (the review loop); a merge that
// conflicts offers to ask the agent to fix it. A worktree without a base
// branch offers only its working changes and Commit. A refusal that lists
// files is shown as a panel with the files; nothing was changed then.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type PullRequest } from '../api';
import type { DiffLine } from '../diffparse';
import { commentOn, conflictMessage, loadComments, reviewMessage, saveComments, type ReviewComment } from '../review';
import { loadTree, toast, worktrees } from '../store';
import { go } from '../router';
import { ago, errText } from './common';
import { DiffBody, ReviewSummary, type DiffFile, type Review, type View } from './DiffBody';
import { CommitDialog, MergeDialog, PrDialog, PrLine, TokenDialog } from './DiffDialogs';
import type { Layout } from './DiffView';

// A refusal worth showing in full: its message and the files it names.
interface Refusal {
  title: string;
  message: string;
  files: string[];
  reason?: string;
  what: string; // the action refused
}

const LAYOUT_KEY = 'agentd.diffLayout';
function savedLayout(): Layout {
  try {
    return localStorage.getItem(LAYOUT_KEY) === 'split' ? 'split' : 'unified';
  } catch {
    return 'unified';
  }
}

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
  return { title: titles[d.reason] || `${what} refused`, message: e.message, files, reason: d.reason, what };
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
  const dialog = useSignal<'commit' | 'merge' | 'pr' | null>(null);
  const prAsk = useSignal<{ title: string; body?: string; draft: boolean } | null>(null); // the pull request last asked for
  const needToken = useSignal<string | null>(null); // the forge whose token is missing
  const layout = useSignal<Layout>(savedLayout());
  const comments = useSignal<Record<string, ReviewComment>>(loadComments(worktreeId));
  const pr = useSignal<PullRequest | null>(null);
  const wt = (worktrees.value || []).find((w) => w.id === worktreeId);
  const baseName = wt?.baseBranch || '';
  const into = against.value !== 'base' ? against.value : baseName;

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
      const list = files.value || [];
      // The open patch may have changed too; with none open, the first file is.
      const keep = sel.value && list.some((f) => f.path === sel.value) ? sel.value : list[0]?.path;
      if (keep) open(keep);
      else sel.value = null;
    }).catch((e) => (err.value = errText(e)));
  };
  // Another view or worktree starts again from its first file.
  useEffect(() => {
    sel.value = null;
    load();
  }, [worktreeId, view.value]);
  // A worktree event reloads the tree: follow it without a spinner.
  useEffect(() => {
    if (files.value !== null) load(true);
  }, [worktrees.value]);
  useEffect(() => {
    pr.value = null;
    if (baseName)
      api
        .pullRequest(worktreeId)
        .then((r) => (pr.value = r))
        .catch(() => {}); // none opened yet (404), or no forge to ask
  }, [worktreeId, baseName]);

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

  const setLayout = (l: Layout) => {
    layout.value = l;
    try {
      localStorage.setItem(LAYOUT_KEY, l);
    } catch {
      /* private mode: remembered for this page only */
    }
  };
  // Unsent comments are this browser's, per worktree (a reload keeps them).
  const setComments = (next: Record<string, ReviewComment>) => {
    comments.value = next;
    saveComments(worktreeId, next);
  };
  useEffect(() => {
    comments.value = loadComments(worktreeId);
  }, [worktreeId]);
  const onComment = (key: string, line: DiffLine, text: string | null) => {
    const next = { ...comments.value };
    if (text === null) delete next[key];
    else if (sel.value) next[key] = commentOn(sel.value, line, key, text);
    setComments(next);
  };
  const count = Object.keys(comments.value).length;
  const sendReview = () =>
    act(
      'Review',
      async () => {
        await api.send(agentId!, reviewMessage(Object.values(comments.value), view.value === 'base' ? review.value?.against : undefined));
        setComments({});
      },
      () => `${count} comment${count === 1 ? '' : 's'} sent to the agent`,
    );
  const askFix = (rf: Refusal) =>
    act(
      'Ask the agent',
      () => api.send(agentId!, conflictMessage(wt?.branch || '', into, rf.files, rf.what === 'Rebase' ? 'Rebase' : 'Merge')),
      () => 'Asked the agent to fix the conflict',
    );
  // Opens the pull request; a forge with no token stored asks for one first.
  const openPr = (ask: { title: string; body?: string; draft: boolean }) => {
    prAsk.value = ask;
    return act(
      'Pull request',
      async () => {
        try {
          return (pr.value = await api.openPullRequest(worktreeId, ask));
        } catch (e) {
          if (e instanceof ApiError && e.status === 422 && e.details?.reason === 'no_token') {
            needToken.value = e.details.provider || 'github';
            return null;
          }
          throw e;
        }
      },
      (r) => (!r ? 'A token is needed first' : r.existing ? `#${r.number} was already open` : `Opened #${r.number}`),
    );
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
          {baseName && (
            <button
              role="tab"
              aria-selected={view.value === 'base'}
              class={`seg-btn${view.value === 'base' ? ' active' : ''}`}
              onClick={() => (view.value = 'base')}
            >
              Against base ({baseName})
            </button>
          )}
        </div>
        {view.value === 'base' && baseName && (
          <form
            class="diff-against"
            onSubmit={(e) => {
              e.preventDefault();
              load();
            }}
          >
            <label>
              <span class="muted">Compare with</span>{' '}
              <input value={against.value} onInput={(e) => (against.value = e.currentTarget.value)} placeholder="base, or a branch" />
            </label>
          </form>
        )}
        <div class="seg" role="group" aria-label="Patch layout">
          <button
            aria-pressed={layout.value === 'unified'}
            class={`seg-btn${layout.value === 'unified' ? ' active' : ''}`}
            onClick={() => setLayout('unified')}
          >
            Unified
          </button>
          <button aria-pressed={layout.value === 'split'} class={`seg-btn${layout.value === 'split' ? ' active' : ''}`} onClick={() => setLayout('split')}>
            Side by side
          </button>
        </div>
        <div class="diff-actions">
          <button class="btn btn-sm" disabled={busy.value} onClick={() => (dialog.value = 'commit')}>
            Commit…
          </button>
          {baseName && (
            <>
              <button class="btn btn-sm" disabled={busy.value} onClick={rebase}>
                Rebase
              </button>
              <button class="btn btn-sm btn-primary" disabled={busy.value} onClick={() => (dialog.value = 'merge')}>
                Merge…
              </button>
              <button class="btn btn-sm" disabled={busy.value} onClick={push}>
                Push
              </button>
              <button class="btn btn-sm" disabled={busy.value} onClick={() => (dialog.value = 'pr')}>
                Pull request…
              </button>
            </>
          )}
        </div>
      </div>
      {!baseName && wt && (
        <div class="muted diff-nobase">This worktree has no base branch: there is nothing to review against, merge into or push for review.</div>
      )}
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
          <div class="form-actions">
            {agentId && refusal.value.reason === 'conflicts' && (
              <button class="btn btn-sm btn-primary" disabled={busy.value} onClick={() => void askFix(refusal.value!)}>
                Ask the agent to fix the conflict
              </button>
            )}
            <button class="btn btn-sm" onClick={() => (refusal.value = null)}>
              Dismiss
            </button>
          </div>
        </div>
      )}
      {pr.value && <PrLine pr={pr.value} />}
      {review.value && <ReviewSummary r={review.value} />}
      {review.value?.merged?.merged && !wt?.isMain && (
        <div class="panel" role="status">
          <span>
            Merged into <code>{review.value.merged.record?.into || review.value.against}</code>
            {review.value.merged.record
              ? ` (${review.value.merged.record.strategy === 'tree' ? 'found on the base' : review.value.merged.record.strategy}, ${ago(review.value.merged.record.createdAt)})`
              : ' (found on the base)'}
            .
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
      {count > 0 && agentId && (
        <div class="review-send panel" role="status">
          <span>
            {count} review comment{count === 1 ? '' : 's'}
          </span>
          <button class="btn btn-sm btn-primary" disabled={busy.value} onClick={() => void sendReview()}>
            Send {count === 1 ? 'the comment' : `${count} comments`} to the agent
          </button>
          <button class="btn btn-sm" onClick={() => setComments({})}>
            Discard
          </button>
        </div>
      )}
      <DiffBody
        err={err.value}
        files={files.value}
        view={view.value}
        sel={sel.value}
        patch={patch.value}
        layout={layout.value}
        comments={comments.value}
        canComment={!!agentId}
        onComment={onComment}
        onRetry={() => load()}
        onOpen={open}
      />
      {dialog.value === 'commit' && (
        <CommitDialog
          onClose={() => (dialog.value = null)}
          onCommit={(message, all) => {
            dialog.value = null;
            void act(
              'Commit',
              () => api.commitWorktree(worktreeId, message, all),
              (r) => `${r.shortId}: ${r.files?.length ?? 0} files`,
            );
          }}
        />
      )}
      {dialog.value === 'merge' && (
        <MergeDialog
          into={into}
          onClose={() => (dialog.value = null)}
          onMerge={(strategy, message) => {
            dialog.value = null;
            const target = against.value !== 'base' ? against.value : undefined;
            void act(
              'Merge',
              () => api.mergeWorktree(worktreeId, { into: target, strategy, message: message || undefined }),
              (r) => (r.upToDate ? `Nothing to merge: ${r.branch} is in ${r.into}` : `Merged ${r.branch} into ${r.into} (${r.strategy})`),
            );
          }}
        />
      )}
      {dialog.value === 'pr' && (
        <PrDialog
          onClose={() => (dialog.value = null)}
          onOpen={(title, body, draft) => {
            dialog.value = null;
            void openPr({ title, body: body || undefined, draft });
          }}
        />
      )}
      {needToken.value && (
        <TokenDialog
          provider={needToken.value}
          onClose={() => (needToken.value = null)}
          onSave={(token) => {
            const provider = needToken.value!;
            needToken.value = null;
            void api
              .putCredential(provider, { apiKey: token })
              .then(() => prAsk.value && openPr(prAsk.value))
              .catch((e) => toast('error', 'Token', errText(e)));
          }}
        />
      )}
    </div>
  );
}
