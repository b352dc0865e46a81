// The first-run flow of the training seed (isFirstRun, onboardingComplete):
// while agentd has no workspace and this browser has not finished or
// skipped it, Home starts with two steps: the requirements check (GET
// /api/requirements: the agent CLIs, git, the sandbox, a GPU) and a first
// workspace (a git repository by its path). Done or skipped is kept in
// localStorage as the seed's persisted store keeps it.
import { signal, useSignal } from '@preact/signals';
import { api } from '../api';
import { auth, loadTree, toast } from '../store';
import { errText, FormFooter } from './common';
import { RequirementsPanel } from './Requirements';

const KEY = 'agentd.onboardingComplete';
function readDone(): boolean {
  try {
    return localStorage.getItem(KEY) === 'true';
  } catch {
    return false;
  }
}
export const onboardingComplete = signal(readDone());
export function completeOnboarding() {
  onboardingComplete.value = true;
  try {
    localStorage.setItem(KEY, 'true');
  } catch {
    /* private mode: for this page only */
  }
}

export function FirstRun() {
  const step = useSignal<1 | 2>(1);
  const path = useSignal('');
  const name = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const canCheck = auth.value.who?.scope === 'admin' || !auth.value.who?.authRequired;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!path.value.trim().startsWith('/')) {
      err.value = 'Give the absolute path of a git repository.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const w = await api.addWorkspace(path.value.trim(), name.value.trim() || undefined);
      completeOnboarding();
      toast('success', 'Workspace set up', w.name || w.path);
      await loadTree();
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  return (
    <section class="panel glass first-run" aria-label="Set up agentd">
      <div class="page-head">
        <h2>Set up agentd</h2>
        <button class="btn btn-sm" onClick={completeOnboarding}>
          Skip
        </button>
      </div>
      <ol class="steps">
        <li aria-current={step.value === 1 ? 'step' : undefined}>Check requirements</li>
        <li aria-current={step.value === 2 ? 'step' : undefined}>Set up a workspace</li>
      </ol>
      {step.value === 1 && (
        <>
          {canCheck ? <RequirementsPanel /> : <p class="muted">Checking requirements needs an admin token; an admin can run it in Settings › Advanced.</p>}
          <div class="form-actions">
            <button class="btn btn-primary" onClick={() => (step.value = 2)}>
              Next: a workspace
            </button>
          </div>
        </>
      )}
      {step.value === 2 && (
        <form class="form" aria-label="First workspace" onSubmit={submit} noValidate>
          <p class="muted">A workspace is a git repository on this machine; agents work in its worktrees.</p>
          <label>
            Repository path
            <input
              name="first-path"
              value={path.value}
              placeholder="/home/me/src/project"
              autocomplete="off"
              onInput={(e) => (path.value = e.currentTarget.value)}
            />
          </label>
          <label>
            Name <span class="muted">(optional)</span>
            <input name="first-name" value={name.value} autocomplete="off" onInput={(e) => (name.value = e.currentTarget.value)} />
          </label>
          <FormFooter err={err.value} busy={busy.value} label="Set up workspace" busyLabel="Setting up…" onCancel={() => (step.value = 1)} />
        </form>
      )}
    </section>
  );
}
