// The setting forge_hosts (issue #74: pull requests to a self-hosted forge
// need it, and it had no UI): which API a remote URL prefix goes to, each
// {kind: github|gitlab|gitea, apiBase}. github.com and gitlab.com are
// built in. The whole map is saved at once (PATCH /api/settings, owner
// only); the server checks it (src/forge) and its refusal is shown.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { toast } from '../store';
import { errText } from './common';

type Forge = { kind: string; apiBase: string };
const KINDS = ['github', 'gitlab', 'gitea'];

export function ForgeHosts() {
  const hosts = useSignal<Record<string, Forge> | null>(null);
  const prefix = useSignal('');
  const kind = useSignal('gitea');
  const base = useSignal('');
  const err = useSignal<string | null>(null);
  const busy = useSignal(false);
  useEffect(() => {
    api
      .settings()
      .then((s: any) => (hosts.value = s && typeof s.forge_hosts === 'object' && s.forge_hosts ? s.forge_hosts : {}))
      .catch((e) => (err.value = errText(e)));
  }, []);
  const save = async (next: Record<string, Forge>, done: string) => {
    busy.value = true;
    err.value = null;
    try {
      await api.patchSettings({ forge_hosts: next });
      hosts.value = next;
      toast('success', done);
      return true;
    } catch (e) {
      err.value = errText(e);
      return false;
    } finally {
      busy.value = false;
    }
  };
  const add = async (e: Event) => {
    e.preventDefault();
    const p = prefix.value.trim();
    const b = base.value.trim();
    if (!p || !b) {
      err.value = 'A remote URL prefix and an API base are both needed.';
      return;
    }
    if (await save({ ...(hosts.value || {}), [p]: { kind: kind.value, apiBase: b } }, `Forge ${p} saved`)) {
      prefix.value = '';
      base.value = '';
    }
  };
  const remove = (p: string) => {
    const next = { ...(hosts.value || {}) };
    delete next[p];
    void save(next, `Forge ${p} removed`);
  };
  const list = Object.entries(hosts.value || {});
  return (
    <section class="panel glass forge-hosts" aria-label="Forges">
      <h2>Forges for pull requests</h2>
      <p class="setting-help">
        github.com and gitlab.com are known. A self-hosted forge (GitHub Enterprise, GitLab, Gitea) is named here by the start of its remotes’ URLs (ending in{' '}
        <code>/</code> or <code>:</code>, e.g. <code>https://git.example.com/</code> or <code>git@git.example.com:</code>) and its API base. The token is the
        credential of its kind.
      </p>
      {hosts.value && list.length === 0 && <p class="muted small">No self-hosted forge yet.</p>}
      {list.length > 0 && (
        <ul class="forge-list" aria-label="Forges known">
          {list.map(([p, f]) => (
            <li key={p}>
              <span class="mono">{p}</span> <span class="badge badge-sm">{f.kind}</span> <span class="mono muted">{f.apiBase}</span>
              <button class="btn btn-sm" disabled={busy.value} onClick={() => remove(p)} aria-label={`Remove forge ${p}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="form row-form" aria-label="Add a forge" onSubmit={add} noValidate>
        <label class="field">
          <span>Remote URL prefix</span>
          <input
            name="forge-prefix"
            class="mono"
            placeholder="https://git.example.com/"
            value={prefix.value}
            onInput={(e) => (prefix.value = e.currentTarget.value)}
          />
        </label>
        <label class="field">
          <span>Kind</span>
          <select name="forge-kind" value={kind.value} onChange={(e) => (kind.value = e.currentTarget.value)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>API base</span>
          <input
            name="forge-api-base"
            class="mono"
            placeholder="https://git.example.com/api/v1"
            value={base.value}
            onInput={(e) => (base.value = e.currentTarget.value)}
          />
        </label>
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button class="btn btn-primary" type="submit" disabled={busy.value}>
            Add forge
          </button>
        </div>
      </form>
    </section>
  );
}
