// Provider credentials (issue #18): the organisation's Anthropic (or
// OpenAI-compatible) key, shown
// only masked (the server never returns it), with Save and Validate. The
// base URL field is for admin tokens (the server refuses it otherwise).
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { api, type Credential } from '../api';
import { auth } from '../store';
import { errText } from './common';

const NAMES: Record<string, string> = { anthropic: 'Anthropic', openai: 'OpenAI-compatible' };

export function Credentials({ provider = 'anthropic', onChange }: { provider?: 'anthropic' | 'openai'; onChange?: (configured: boolean) => void }) {
  const cred = useSignal<Credential | null>(null);
  const loaded = useSignal(false);
  const key = useSignal('');
  const baseUrl = useSignal('');
  const busy = useSignal(false);
  const msg = useSignal<{ ok: boolean; text: string } | null>(null);
  const admin = auth.value.who ? auth.value.who.scope === 'admin' || auth.value.who.owner || !auth.value.who.authRequired : true;

  const load = async () => {
    try {
      const r = await api.credentials();
      cred.value = r.credentials.find((c) => c.provider === provider) || null;
    } catch (e) {
      msg.value = { ok: false, text: errText(e) };
    }
    loaded.value = true;
    onChange?.(cred.value !== null);
  };
  useEffect(() => void load(), []);

  const save = async (e: Event) => {
    e.preventDefault();
    busy.value = true;
    msg.value = null;
    try {
      const body: Record<string, string> = { apiKey: key.value.trim() };
      if (baseUrl.value.trim() !== '') body.baseUrl = baseUrl.value.trim();
      cred.value = await api.putCredential(provider, body);
      key.value = '';
      msg.value = { ok: true, text: 'Saved.' };
      onChange?.(true);
    } catch (err) {
      msg.value = { ok: false, text: errText(err) };
    }
    busy.value = false;
  };

  const validate = async () => {
    busy.value = true;
    msg.value = null;
    try {
      const r = await api.validateCredential(provider);
      msg.value = r.valid ? { ok: true, text: 'The key works.' } : { ok: false, text: `The key was refused: ${r.reason || 'no reason given'}` };
      await load();
    } catch (err) {
      msg.value = { ok: false, text: errText(err) };
    }
    busy.value = false;
  };

  const c = cred.value;
  return (
    <section class="panel glass creds" aria-label={`${NAMES[provider]} credential`}>
      <h2 class="panel-title">{NAMES[provider]} API key</h2>
      {loaded.value && c && (
        <p data-testid="cred-masked">
          Key <code>{c.masked}</code> <span class={`badge badge-sm status-${c.status}`}>{c.status}</span>
          {c.storage === 'secret-service' && <span class="muted small"> · in the Secret Service</span>}
          {c.storage === 'file' && <span class="muted small"> · in a 0600 file</span>}
          {c.baseUrl && (
            <span class="muted">
              {' '}
              via <code>{c.baseUrl}</code>
            </span>
          )}
          {c.statusReason && <span class="muted"> — {c.statusReason}</span>}
        </p>
      )}
      {loaded.value && !c && <p class="muted">No key yet: chats need one.</p>}
      <form class="row-form" onSubmit={save}>
        <label class="field">
          <span>{c ? 'Replace the key' : 'API key'}</span>
          <input
            type="password"
            autoComplete="off"
            value={key.value}
            onInput={(e) => (key.value = e.currentTarget.value)}
            placeholder={provider === 'openai' ? 'sk-…' : 'sk-ant-…'}
          />
        </label>
        {admin && (
          <label class="field">
            <span>Base URL (optional)</span>
            <input
              type="url"
              value={baseUrl.value}
              onInput={(e) => (baseUrl.value = e.currentTarget.value)}
              placeholder={provider === 'openai' ? 'https://api.openai.com/v1 or a local server' : 'https://api.anthropic.com'}
            />
          </label>
        )}
        <button class="btn btn-primary" type="submit" disabled={busy.value || key.value.trim().length < 8}>
          Save key
        </button>
        <button class="btn" type="button" disabled={busy.value || !c} onClick={() => void validate()}>
          Validate
        </button>
      </form>
      {msg.value && (
        <p role="status" class={msg.value.ok ? 'ok-text' : 'error-text'}>
          {msg.value.text}
        </p>
      )}
    </section>
  );
}
