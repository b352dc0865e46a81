// API tokens in Settings, for admins: the list (never a secret), a form that
// makes one and shows it once, and revoke.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type ApiToken } from '../api';
import { toast } from '../store';
import { errText } from './common';

const EXPIRY: [string, number][] = [
  ['Never', 0],
  ['1 day', 86400],
  ['30 days', 30 * 86400],
  ['1 year', 365 * 86400],
];

export function TokensPanel() {
  const list = useSignal<ApiToken[] | null>(null);
  const err = useSignal<string | null>(null);
  const name = useSignal('');
  const scope = useSignal('read');
  const expiry = useSignal(30 * 86400);
  const fresh = useSignal<{ id: string; token: string } | null>(null);
  const busy = useSignal(false);

  const load = () =>
    api
      .tokens()
      .then((t) => ((list.value = t), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    const n = name.value.trim();
    if (!n || n.length > 63) {
      err.value = 'Name: 1 to 63 characters.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      const body: { name: string; scope: string; expiresInSeconds?: number } = { name: n, scope: scope.value };
      if (expiry.value > 0) body.expiresInSeconds = expiry.value;
      const t = await api.createToken(body);
      fresh.value = { id: t.id, token: t.token };
      name.value = '';
      await load();
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  const revoke = async (t: ApiToken) => {
    if (!confirm(`Revoke the token "${t.name}"? Programs using it stop at once.`)) return;
    try {
      await api.revokeToken(t.id);
      toast('success', 'Token revoked', t.name);
      if (fresh.value?.id === t.id) fresh.value = null;
      await load();
    } catch (e2) {
      err.value = errText(e2);
    }
  };

  return (
    <section class="panel glass tokens-panel" aria-label="API tokens">
      <h2>API tokens</h2>
      {fresh.value && (
        <div class="token-fresh" role="status">
          <div>Copy it now: it is shown only once.</div>
          <code class="token-secret">{fresh.value.token}</code>
          <button type="button" class="btn btn-sm" onClick={() => void navigator.clipboard?.writeText(fresh.value!.token)}>
            Copy
          </button>
        </div>
      )}
      <form class="token-form" onSubmit={create}>
        <input
          name="token-name"
          placeholder="Name (e.g. ci)"
          aria-label="Token name"
          value={name.value}
          onInput={(e) => (name.value = e.currentTarget.value)}
        />
        <select name="token-scope" aria-label="Scope" value={scope.value} onChange={(e) => (scope.value = e.currentTarget.value)}>
          <option value="read">read</option>
          <option value="write">write</option>
          <option value="admin">admin</option>
        </select>
        <select name="token-expiry" aria-label="Expires" value={String(expiry.value)} onChange={(e) => (expiry.value = Number(e.currentTarget.value))}>
          {EXPIRY.map(([l, v]) => (
            <option key={v} value={String(v)}>
              {l}
            </option>
          ))}
        </select>
        <button type="submit" class="btn btn-primary btn-sm" disabled={busy.value}>
          Create token
        </button>
      </form>
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
      {list.value && list.value.length > 0 && (
        <table class="table tokens">
          <thead>
            <tr>
              <th>Name</th>
              <th>Scope</th>
              <th>Expires</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value.map((t) => (
              <tr key={t.id} data-token={t.id}>
                <td title={t.id}>{t.name}</td>
                <td>{t.scope}</td>
                <td>{t.expiresAt ? new Date(t.expiresAt).toLocaleDateString() : 'never'}</td>
                <td>{t.revokedAt ? 'revoked' : 'active'}</td>
                <td>
                  {!t.revokedAt && (
                    <button type="button" class="btn btn-sm" onClick={() => void revoke(t)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.value && list.value.length === 0 && <p class="muted">No tokens yet besides the owner's.</p>}
    </section>
  );
}
