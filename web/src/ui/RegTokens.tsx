// Registration tokens on the Nodes page, for admins (issue #77, docs/nodes.md
// "Registration tokens"): make one (its text shown this once, with the
// command that starts a node with it), see each one's state and uses, and
// revoke one.
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type RegistrationToken } from '../api';
import { toast } from '../store';
import { errText } from './common';

export default function RegTokens() {
  const list = useSignal<RegistrationToken[]>([]);
  const made = useSignal<string | null>(null);
  const err = useSignal<string | null>(null);
  const load = () =>
    api
      .registrationTokens()
      .then((l) => ((list.value = l), (err.value = null)))
      .catch((e) => (err.value = errText(e)));
  useEffect(() => void load(), []);
  const make = async () => {
    const text = prompt('Minutes it may be used for (it works once):', '10');
    if (text === null) return;
    const minutes = Number(text.trim());
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 7 * 24 * 60) {
      err.value = 'A whole number of minutes, from 1 to a week.';
      return;
    }
    try {
      const r = await api.makeRegistrationToken({ ttlSeconds: minutes * 60 });
      made.value = r.token;
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };
  const revoke = async (t: RegistrationToken) => {
    try {
      await api.revokeRegistrationToken(t.id);
      toast('success', 'Registration token revoked', t.id);
      await load();
    } catch (e) {
      err.value = errText(e);
    }
  };
  return (
    <div class="reg-tokens">
      <h2>Registration tokens</h2>
      <p class="muted">
        A new node trades one, once, for a key of its own: <code>agentd node --join URL --registration-token-file FILE --name NAME</code>.
      </p>
      <button type="button" class="btn btn-sm" onClick={() => void make()}>
        New registration token
      </button>
      {made.value && (
        <div class="reg-token-made" role="status">
          Shown this once: <code class="reg-token-text">{made.value}</code>
          <div class="muted">
            Save it to a file (mode 0600) on the new node and start it with{' '}
            <code>agentd node --join {location.origin} --registration-token-file FILE --name NAME</code>.
          </div>
        </div>
      )}
      {list.value.length > 0 && (
        <table class="table reg-tokens-list" aria-label="Registration tokens">
          <thead>
            <tr>
              <th>Token</th>
              <th>State</th>
              <th class="num">Uses</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.value.map((t) => (
              <tr key={t.id} data-token={t.id} data-state={t.state}>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.state}</td>
                <td class="num">
                  {t.uses} / {t.maxUses}
                </td>
                <td>{new Date(t.expiresAt).toLocaleString()}</td>
                <td>
                  {t.state === 'active' && (
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
      {err.value && (
        <div class="form-error" role="alert">
          {err.value}
        </div>
      )}
    </div>
  );
}
