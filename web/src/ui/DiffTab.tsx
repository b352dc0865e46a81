// The Diff tab of an agent page: its worktree's working changes (against
// HEAD), or its work against the base branch (commits since the merge
// base, ahead/behind, per-file stats, patches), with Commit, Merge (merge,
// squash or rebase), Rebase, Push and a pull request. Patches show unified
// or side by side (remembered), with line numbers and syntax colours; new
// and untracked files are marked and the first file is open. Comments left
// on lines go to the agent as one message (the review loop); a merge that
// conflicts offers to ask the agent to fix it. A worktree without a base
// branch offers only its working changes and Commit. A refusal that lists
// files is shown as a panel with the files; nothing was changed then. The
// state and the actions are useDiffTab's.
import { api } from '../api';
import { ask } from '../confirm';
import { loadTree, model, settings, toast, worktrees } from '../store';
import { removalLabel, removalText, worktreeAgents } from '../worktreeRemoval';
import { go } from '../router';
import { ago, errText } from './common';
import { DiffBody, ReviewSummary } from './DiffBody';
import { CommitDialog, MergeDialog, PrDialog, PrLine, TokenDialog } from './DiffDialogs';
import { PrLoopPanel } from './PrLoop';
import { useDiffTab } from './useDiffTab';

export function DiffTab({ worktreeId, agentId }: { worktreeId: string; agentId?: string }) {
  const {
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
  } = useDiffTab(worktreeId, agentId);

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
      {pr.value && <PrLoopPanel worktreeId={worktreeId} agentId={agentId} />}
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
          <RemoveWorktreeButton worktreeId={worktreeId} busy={busy.value} act={act} />
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

// Removes a merged worktree: says what it does (its agents archived, the
// running ones stopped), and asks first when "Confirm deletes" is on or
// when something runs; stop=true only after that answer.
function RemoveWorktreeButton({
  worktreeId,
  busy,
  act,
}: {
  worktreeId: string;
  busy: boolean;
  act: (what: string, f: () => Promise<any>, done: (r: any) => string) => Promise<void>;
}) {
  const { all, running } = worktreeAgents(model.value.agents, worktreeId);
  const wt = (worktrees.value || []).find((w) => w.id === worktreeId) || { name: worktreeId };
  const label = removalLabel(all, running);
  const onClick = async () => {
    if (
      (settings.value.confirm_delete !== false || running.length > 0) &&
      !(await ask({ title: `Remove worktree ${wt.name}?`, body: removalText(wt, all, running), yes: label, danger: true }))
    )
      return;
    await act(
      'Remove the worktree',
      async () => {
        const r: any = await api.deleteWorktree(worktreeId, false, running.length > 0);
        await loadTree();
        go('/');
        return r;
      },
      (r) => {
        const n = (r && r.agentIds ? r.agentIds.length : all.length) as number;
        return `The worktree is removed and ${n === 1 ? 'its agent' : `its ${n} agents`} archived`;
      },
    );
  };
  return (
    <button class="btn btn-sm btn-danger" disabled={busy} onClick={() => void onClick()}>
      {label}
    </button>
  );
}
