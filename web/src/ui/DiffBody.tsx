// The Diff tab's body: the review summary (commits, ahead/behind) and the
// file list (new and untracked files marked) beside the open file's patch.
import type { DiffLine } from '../diffparse';
import type { ReviewComment } from '../review';
import { ago, Empty, ErrorState, Spinner } from './common';
import { DiffView, type Layout } from './DiffView';

export type View = 'working' | 'base';

export interface DiffFile {
  path: string;
  insertions?: number;
  deletions?: number;
  status?: string;
  untracked?: boolean;
  binary?: boolean;
}

export interface Commit {
  id: string;
  shortId: string;
  summary: string;
  author?: string;
  time?: string;
}

export interface Review {
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

// What a file is, beside its path: new, untracked (new and not even staged), deleted, renamed.
function fileMark(f: DiffFile): string | null {
  if (f.untracked) return 'untracked';
  if (f.status === 'added') return 'new';
  if (f.status === 'deleted' || f.status === 'renamed') return f.status;
  return null;
}

export function ReviewSummary({ r }: { r: Review }) {
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

export function DiffBody(p: {
  err: string | null;
  files: DiffFile[] | null;
  view: View;
  sel: string | null;
  patch: string | null;
  layout: Layout;
  comments: Record<string, ReviewComment>;
  canComment: boolean;
  onComment: (key: string, line: DiffLine, text: string | null) => void;
  onRetry: () => void;
  onOpen: (path: string) => void;
}) {
  if (p.err) return <ErrorState message={p.err} onRetry={p.onRetry} />;
  if (p.files === null) return <Spinner label="Loading diff…" />;
  if (p.files.length === 0)
    return <Empty title="No changes">{p.view === 'working' ? 'The worktree matches its branch’s last commit.' : 'Nothing differs from the base.'}</Empty>;
  const sel = p.files.find((f) => f.path === p.sel);
  return (
    <div class="diff">
      <ul class="diff-files panel glass">
        {p.files.map((f) => {
          const mark = fileMark(f);
          return (
            <li key={f.path}>
              <button class={`diff-file${p.sel === f.path ? ' active' : ''}`} aria-current={p.sel === f.path} onClick={() => p.onOpen(f.path)}>
                <span class="path">{f.path}</span>
                {mark && <span class={`file-mark mark-${mark}`}>{mark}</span>}
                <span class="ins">+{f.insertions ?? 0}</span>
                <span class="del">−{f.deletions ?? 0}</span>
              </button>
            </li>
          );
        })}
      </ul>
      <div class="diff-patch panel glass">
        {!p.sel && <div class="muted">Choose a file to see its changes.</div>}
        {p.sel && p.patch === null && <Spinner label="Loading patch…" />}
        {p.sel && p.patch !== null && sel?.binary && <div class="muted">A binary file: no text to show.</div>}
        {p.sel && p.patch !== null && !sel?.binary && (
          <DiffView path={p.sel} patch={p.patch} layout={p.layout} comments={p.comments} canComment={p.canComment} onComment={p.onComment} />
        )}
      </div>
    </div>
  );
}
