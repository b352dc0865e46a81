// Jobs on the Health page (issue #17; made here since issue #32): programs
// that report progress, newest first, with a bar, what they printed (live
// while they run), Stop, and a form to start one (an admin token: a job
// runs a program).
import { useSignal } from '@preact/signals';
import { api, type Job } from '../api';
import { splitArgs } from '../tasks';
import { toast } from '../store';
import { ago, Badge, ErrorState, errText, FormFooter } from './common';
import { useJobs } from './useHealth';
import { environment } from '../environment';
import { DiscoveryPanel } from './Discovery';

function NewJob({ onClose, onStarted }: { onClose: () => void; onStarted: () => void }) {
  const name = useSignal(environment.value); // a discovery job is named after its environment
  const command = useSignal('');
  const cwd = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const argv = splitArgs(command.value.trim());
    if (!name.value.trim() || !argv.length) {
      err.value = 'A job needs a name and a command.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      await api.startJob({ name: name.value.trim(), command: argv, ...(cwd.value.trim() ? { cwd: cwd.value.trim() } : {}) });
      toast('success', `Job ${name.value.trim()} started`);
      onStarted();
      onClose();
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  return (
    <form class="panel form row-form new-job" aria-label="Start a job" onSubmit={submit} noValidate>
      <label class="field">
        <span>Name</span>
        <input name="job-name" value={name.value} maxLength={127} onInput={(e) => (name.value = e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Command</span>
        <input
          name="job-command"
          class="mono"
          placeholder="python3 scan.py --all"
          value={command.value}
          onInput={(e) => (command.value = e.currentTarget.value)}
        />
      </label>
      <label class="field">
        <span>Folder (optional)</span>
        <input name="job-cwd" class="mono" value={cwd.value} onInput={(e) => (cwd.value = e.currentTarget.value)} />
      </label>
      <p class="muted small">
        A line <code>{'{"type":"progress","fraction":0.4,"message":"…"}'}</code> on its output moves the bar; other lines are its output.
      </p>
      <FormFooter err={err.value} busy={busy.value} label="Start job" busyLabel="Starting…" onCancel={onClose} />
    </form>
  );
}

function JobRow({ j, onStop }: { j: Job; onStop: () => void }) {
  const open = useSignal(false);
  const pct = j.progress === null ? null : Math.round(j.progress * 100);
  const out = (j.output || '').trimEnd();
  return (
    <li data-job={j.id} data-status={j.status}>
      <span class="job-name">{j.name}</span>
      <Badge status={j.status} small />
      <span class="bar" role="progressbar" aria-label={`${j.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct ?? undefined}>
        <span class="bar-fill" style={{ width: `${pct ?? 0}%` }} />
      </span>
      <span class="job-pct">{pct === null ? '–' : `${pct} %`}</span>
      <span class="job-msg muted">
        {[j.stage, j.message].filter(Boolean).join(': ')}
        {j.exitCode !== null && j.status !== 'running' ? ` (exit ${j.exitCode})` : ''} {ago(j.createdAt)}
      </span>
      <span class="job-actions">
        <button class="btn btn-sm" aria-expanded={open.value} onClick={() => (open.value = !open.value)} disabled={!out}>
          {open.value ? 'Hide output' : 'Output'}
        </button>
        {j.status === 'running' && (
          <button class="btn btn-sm" onClick={onStop} disabled={!!j.stopping}>
            {j.stopping ? 'Stopping…' : 'Stop'}
          </button>
        )}
      </span>
      {open.value && out && (
        <pre class="job-output" aria-label={`Output of ${j.name}`}>
          {out}
        </pre>
      )}
    </li>
  );
}

/** Jobs with their progress (newest first), polled while the page is open;
 * in Settings → Discovery with the discovery program above them. */
export function JobsPanel({ discovery = false }: { discovery?: boolean }) {
  const { data: jobs, err, reload } = useJobs();
  const adding = useSignal(false);
  const stop = (id: string) =>
    api
      .stopJob(id)
      .then(reload)
      .catch((e) => toast('error', 'Stop failed', errText(e)));
  return (
    <>
      {discovery && <DiscoveryPanel onStarted={reload} />}
      <section class="panel glass jobs" aria-label="Jobs">
        <div class="page-head">
          <h2>Jobs</h2>
          {!adding.value && (
            <button class="btn btn-sm btn-primary" onClick={() => (adding.value = true)}>
              + Start a job
            </button>
          )}
        </div>
        {adding.value && <NewJob onClose={() => (adding.value = false)} onStarted={reload} />}
        {err.value && <ErrorState message={err.value} />}
        {jobs.value && jobs.value.length === 0 && !adding.value && <p class="muted">No job yet: start one to see its progress and output here.</p>}
        {jobs.value && jobs.value.length > 0 && (
          <ul class="joblist">
            {jobs.value.map((j) => (
              <JobRow key={j.id} j={j} onStop={() => void stop(j.id)} />
            ))}
          </ul>
        )}
      </section>
    </>
  );
}
