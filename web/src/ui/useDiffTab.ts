// The Diff tab's state apart from how it is shown (DiffTab.tsx): the
// working changes or the review against a base, the open file and its
// patch, the layout (remembered), the comments left on lines (this
// browser's, per worktree), the pull request, and the actions (commit,
// merge, rebase, push, send a review, ask the agent to fix a conflict),
// each refused with the files it names shown in full.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, ApiError, type PullRequest } from '../api';
import type { DiffLine } from '../diffparse';
import { commentOn, conflictMessage, loadComments, reviewMessage, saveComments, type ReviewComment } from '../review';
import { toast, worktrees } from '../store';
import { errText } from './common';
import type { DiffFile, Review, View } from './DiffBody';
import type { Layout } from './DiffView';

// A refusal worth showing in full: its message and the files it names.
export interface Refusal {
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

export function useDiffTab(worktreeId: string, agentId?: string) {
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

  // Only the last load's and the last open's answers are shown: a slow
  // answer of the view just left must not replace the one asked for since.
  const loads = useRef(0);
  const opens = useRef(0);
  const load = (quiet = false) => {
    const mine = ++loads.current;
    const current = () => mine === loads.current;
    err.value = null;
    if (!quiet) {
      files.value = null;
      review.value = null;
    }
    const p =
      view.value === 'working'
        ? api.diff(worktreeId).then((d: any) => {
            if (!current()) return false;
            files.value = (d?.files || []) as DiffFile[];
            review.value = null;
            return true;
          })
        : api.review(worktreeId, against.value || 'base').then((d: any) => {
            if (!current()) return false;
            review.value = d as Review;
            files.value = (d?.files || []) as DiffFile[];
            return true;
          });
    p.then((shown) => {
      if (!shown) return;
      const list = files.value || [];
      // The open patch may have changed too; with none open, the first file is.
      const keep = sel.value && list.some((f) => f.path === sel.value) ? sel.value : list[0]?.path;
      if (keep) open(keep);
      else sel.value = null;
    }).catch((e) => {
      if (current()) err.value = errText(e);
    });
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
    const mine = ++opens.current;
    sel.value = p;
    patch.value = null;
    const req = view.value === 'working' ? api.diff(worktreeId, p) : api.review(worktreeId, against.value || 'base', p);
    req
      .then((d: any) => {
        if (mine === opens.current) patch.value = String(d?.patch ?? '');
      })
      .catch((e) => {
        if (mine === opens.current) patch.value = 'Could not load the patch: ' + errText(e);
      });
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

  return {
    view,
    against,
    files,
    review,
    err,
    sel,
    patch,
    busy,
    refusal,
    dialog,
    prAsk,
    needToken,
    layout,
    comments,
    pr,
    wt,
    baseName,
    into,
    load,
    open,
    act,
    setLayout,
    setComments,
    onComment,
    count,
    sendReview,
    askFix,
    openPr,
    rebase,
    push,
  };
}
