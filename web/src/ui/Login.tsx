// The sign-in screen: shown when the daemon answers 401 (no session yet, or
// it ended). A token pasted here is traded for a session cookie by POST
// /api/auth/login; the token itself is never kept by the page. The login
// URL `agentd login` prints carries a one-time code instead (main.tsx).
import { useSignal } from '@preact/signals';
import { loginError, signIn } from '../store';
import { errText } from './common';

export function Login() {
  const token = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.value.trim();
    if (!t) {
      err.value = 'Paste a token first.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      await signIn(t);
      token.value = '';
    } catch (e2) {
      err.value = errText(e2);
    } finally {
      busy.value = false;
    }
  };
  return (
    <main class="login" id="main">
      <form class="panel glass form login-form" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title" class="brand">
          <span class="logo" aria-hidden="true" />
          agentd
        </h1>
        <p class="muted">
          Run <code>agentd login</code> and open the URL it prints (it works once), or paste a token (the owner token is in{' '}
          <code>&lt;data-dir&gt;/owner-token</code>; make others with <code>agentd token create</code>).
        </p>
        {loginError.value && (
          <div class="form-error" role="alert">
            {loginError.value}
          </div>
        )}
        <label>
          Token
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            value={token.value}
            onInput={(e) => (token.value = e.currentTarget.value)}
            aria-invalid={!!err.value}
          />
        </label>
        {err.value && (
          <div class="form-error" role="alert">
            {err.value}
          </div>
        )}
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy.value}>
            {busy.value ? 'Signing in…' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}
