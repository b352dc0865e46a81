// The Diff tab's dialogs (commit, merge, pull request) and its pull request
// line: the forge's state and checks of the worktree's pull request.
import { useSignal } from '@preact/signals';
import type { PullRequest } from '../api';
import { Modal } from './common';

export type Strategy = 'merge' | 'squash' | 'rebase';

export function CommitDialog({ onClose, onCommit }: { onClose: () => void; onCommit: (message: string, all: boolean) => void }) {
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

export function MergeDialog({ into, onClose, onMerge }: { into: string; onClose: () => void; onMerge: (s: Strategy, message: string) => void }) {
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

export function PrDialog({ onClose, onOpen }: { onClose: () => void; onOpen: (title: string, body: string, draft: boolean) => void }) {
  const title = useSignal('');
  const body = useSignal('');
  const draft = useSignal(false);
  return (
    <Modal title="Open a pull request" onClose={onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (title.value.trim()) onOpen(title.value.trim(), body.value, draft.value);
        }}
      >
        <p class="muted">The branch is pushed, then the pull request is opened into the base branch on the forge its remote points at.</p>
        <label>
          Title
          <input name="title" value={title.value} onInput={(e) => (title.value = e.currentTarget.value)} />
        </label>
        <label>
          Description <span class="muted">(optional)</span>
          <textarea name="body" rows={5} value={body.value} onInput={(e) => (body.value = e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={draft.value} onChange={(e) => (draft.value = e.currentTarget.checked)} /> Open it as a draft
        </label>
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={!title.value.trim()}>
            Open pull request
          </button>
        </div>
      </form>
    </Modal>
  );
}

const CHECK_WORDS: Record<string, string> = { success: 'checks passed', failure: 'checks failed', pending: 'checks running', none: 'no checks' };

// A forge's link, only when it is one: a javascript: or data: address from a
// forge's answer never becomes an href.
export function safeUrl(u: string | undefined): string | undefined {
  return u && /^https?:\/\//i.test(u) ? u : undefined;
}

export function PrLine({ pr }: { pr: PullRequest }) {
  const checks = pr.checks;
  return (
    <div class="pr-line panel" role="status" aria-label="Pull request">
      <span class={`pill pr-${pr.state}`}>{pr.state}</span>{' '}
      <a href={safeUrl(pr.url)} target="_blank" rel="noopener noreferrer">
        #{pr.number} {pr.title}
      </a>
      {pr.draft && <span class="muted"> (draft)</span>}
      {checks && <span class={`pr-checks checks-${checks.state}`}> · {CHECK_WORDS[checks.state] || checks.state}</span>}
      {checks && checks.items.length > 0 && (
        <ul class="pr-check-items">
          {checks.items.map((c, i) => (
            <li key={i} class={`checks-${c.state}`}>
              {safeUrl(c.url) ? (
                <a href={safeUrl(c.url)} target="_blank" rel="noopener noreferrer">
                  {c.name}
                </a>
              ) : (
                c.name
              )}
              : {c.state}
            </li>
          ))}
        </ul>
      )}
      {pr.refreshError && <div class="muted">Last known state; the forge said: {pr.refreshError}</div>}
    </div>
  );
}

const FORGE_NAMES: Record<string, string> = { github: 'GitHub', gitlab: 'GitLab', gitea: 'Gitea' };

// No token is stored for the remote's forge: ask for one (kept by the
// credential store, never shown again), then the pull request is tried again.
export function TokenDialog({ provider, onClose, onSave }: { provider: string; onClose: () => void; onSave: (token: string) => void }) {
  const token = useSignal('');
  const name = FORGE_NAMES[provider] || provider;
  return (
    <Modal title={`A ${name} token`} onClose={onClose}>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (token.value.trim()) onSave(token.value.trim());
        }}
      >
        <p class="muted">
          No {name} token is stored for this organisation. It is kept in the credential store and sent only to the forge's API; it is never shown again.
        </p>
        <label>
          Token
          <input name="token" type="password" autoComplete="off" value={token.value} onInput={(e) => (token.value = e.currentTarget.value)} />
        </label>
        <div class="form-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" disabled={token.value.trim().length < 8}>
            Store and open the pull request
          </button>
        </div>
      </form>
    </Modal>
  );
}
