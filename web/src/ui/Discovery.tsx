// Discovery in the training seed's Settings section (issue #40): its
// client starts a discovery with an environment only
// (start_autonomous_discovery(environment)); the program that runs is the
// owner's discovery_command setting, each {environment} in it replaced.
// Here: that program (the owner edits it) and "Discover <environment>",
// the same start from the dashboard (POST /api/jobs {kind, environment}).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { environment } from '../environment';
import { auth, toast } from '../store';
import { splitArgs } from '../tasks';
import { errText } from './common';

// An argument shown as splitArgs reads it back: quoted when it has a space or a quote.
export function joinArgs(argv: string[]): string {
  return argv.map((a) => (a === '' || /[\s"']/.test(a) ? (a.includes("'") ? `"${a}"` : `'${a}'`) : a)).join(' ');
}

export function DiscoveryPanel({ onStarted }: { onStarted: () => void }) {
  const command = useSignal<string[] | null>(null);
  const text = useSignal('');
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  const owner = !!auth.value.who?.owner || !auth.value.who?.authRequired;
  useEffect(() => {
    api
      .settings()
      .then((s) => {
        const c = (s as Record<string, unknown>).discovery_command;
        command.value = Array.isArray(c) ? c.map(String) : [];
        text.value = joinArgs(command.value);
      })
      .catch((e) => (err.value = errText(e)));
  }, []);
  const save = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    err.value = null;
    try {
      const argv = splitArgs(text.value.trim());
      await api.patchSettings({ discovery_command: argv });
      command.value = argv;
      toast('success', argv.length ? 'Discovery program saved' : 'Discovery program cleared');
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  const discover = async () => {
    busy.value = true;
    err.value = null;
    try {
      await api.startJob({ kind: 'discovery', environment: environment.value });
      toast('success', `Discovery of ${environment.value} started`);
      onStarted();
    } catch (x) {
      err.value = errText(x);
    } finally {
      busy.value = false;
    }
  };
  const set = (command.value || []).length > 0;
  return (
    <section class="panel glass discovery" aria-label="Discovery program">
      <h2>Discovery program</h2>
      <form class="form row-form" onSubmit={save} noValidate>
        <label class="field">
          <span>Program and arguments ({'{environment}'} is replaced)</span>
          <input
            name="discovery-command"
            class="mono"
            placeholder="python3 discover.py --env {environment}"
            value={text.value}
            readOnly={!owner}
            onInput={(e) => (text.value = e.currentTarget.value)}
          />
        </label>
        {owner && (
          <button type="submit" class="btn btn-sm" disabled={busy.value}>
            Save program
          </button>
        )}
        <button type="button" class="btn btn-sm btn-primary" disabled={busy.value || !set || !environment.value} onClick={() => void discover()}>
          {environment.value ? `Discover ${environment.value}` : 'Discover (choose an environment in General)'}
        </button>
      </form>
      <p class="muted small">What runs when a discovery names only its environment, as the training dashboard's does. {owner ? '' : 'The owner sets it.'}</p>
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </section>
  );
}
