// The requirements checklist (issue #17): what agentd needs and what it
// found, each with its fix, checked again on demand. Its own module: the
// first-run card on the overview shows it, and importing it from the
// Health page put that whole page (services, jobs, the health cards) into
// the dashboard's first load.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, ApiError, type Requirement } from '../api';
import { ErrorState, errText, Spinner } from './common';

/** The requirements checklist (admin tokens: the check runs --version). */
export function RequirementsPanel() {
  const data = useSignal<{ ok: boolean; items: Requirement[] } | null>(null);
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const load = (refresh = false) => {
    err.value = null;
    busy.value = true;
    api
      .requirements(refresh)
      .then((d) => (data.value = d))
      .catch((e) => (err.value = e instanceof ApiError && e.status === 403 ? 'Checking requirements needs an admin token.' : errText(e)))
      .finally(() => (busy.value = false));
  };
  useEffect(() => load(), []);
  return (
    <section class="panel glass requirements" aria-label="Requirements">
      <div class="page-head">
        <h2>Requirements</h2>
        <button class="btn btn-sm" onClick={() => load(true)} disabled={busy.value}>
          {busy.value ? 'Checking…' : 'Check again'}
        </button>
      </div>
      {err.value && <ErrorState message={err.value} />}
      {!err.value && !data.value && <Spinner label="Checking…" />}
      {data.value && (
        <ul class="checklist">
          {data.value.items.map((i) => (
            <li key={i.id} class={`req req-${i.status}`} data-req={i.id} data-status={i.status}>
              <span class="req-mark" aria-hidden="true">
                {i.status === 'ok' ? '✓' : i.status === 'missing' ? '✗' : '!'}
              </span>
              <span class="req-name">
                {i.name}
                {!i.required && <span class="muted"> (optional)</span>}
              </span>
              <span class="req-value">{i.value}</span>
              {i.fix && <span class="req-fix">{i.fix}</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
