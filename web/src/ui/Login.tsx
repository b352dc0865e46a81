// The sign-in screen: shown when the daemon answers 401 (no session yet, or
// it ended). A user account signs in with its username and password; a
// token pasted here is traded for a session cookie the same way (POST
// /api/auth/login); neither is kept by the page. The login URL `agentd
// login` prints carries a one-time code instead (main.tsx).
import { useSignal } from '@preact/signals';
import { loginError, signIn, signInWithPassword } from '../store';
import { errText } from './common';

export function Login() {
  const username = useSignal('');
  const password = useSignal('');
  const token = useSignal('');
  const busy = useSignal(false);
  const err = useSignal<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const u = username.value.trim();
    const t = token.value.trim();
    if (!t && (!u || !password.value)) {
      err.value = u ? 'Type your password.' : 'Type your username and password, or paste a token.';
      return;
    }
    busy.value = true;
    err.value = null;
    try {
      if (t) await signIn(t);
      else await signInWithPassword(u, password.value);
      token.value = '';
      password.value = '';
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
          Sign in with your account (an admin makes one with <code>agentd user add</code>), run <code>agentd login</code> and open the URL it prints (it works
          once), or paste a token (the owner token is in <code>&lt;data-dir&gt;/owner-token</code>; make others with <code>agentd token create</code>).
        </p>
        {loginError.value && (
          <div class="form-error" role="alert">
            {loginError.value}
          </div>
        )}
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            value={username.value}
            onInput={(e) => (username.value = e.currentTarget.value)}
            aria-invalid={!!err.value}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password.value}
            onInput={(e) => (password.value = e.currentTarget.value)}
            aria-invalid={!!err.value}
          />
        </label>
        <p class="muted login-or">or</p>
        <label>
          Token
          <input
            name="token"
            type="password"
            autocomplete="off"
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
