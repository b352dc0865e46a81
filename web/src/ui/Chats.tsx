// The Chats page (issue #18), loaded lazily: chats with Claude through
// agentd's own Messages API client. The list and a New chat form (model,
// temperature, system prompt, agent definition), and the open chat: its
// messages as markdown, the answer streaming in token by token over /ws
// (stream_queued / stream_token / stream_retry / stream_complete / stream_error on
// chat:<id>), Stop (the partial answer is kept), tokens and cost per answer;
// older messages load page by page when the log is scrolled to its top.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, type Chat, type Suggestion } from '../api';
import { WorkbenchNav } from './WorkbenchNav';
import { go } from '../router';
import { type ChatMessage } from '../workbench';
import { useChat } from './useChat';
import { costOrNoPrice, modelPrices } from '../prices';
import { loadPrices } from '../store';
import { DefinitionOptions, useDefinitions } from './useDefinitions';
import { Credentials } from './Credentials';
import { Bubble } from './ChatBubble';
import { ago, Empty, errText, ErrorState, fmtCost, Spinner } from './common';
import { useSavedDraft } from '../autosave';

export type { Chat, ChatMessage };

const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];

// ---- one chat ---------------------------------------------------------------------

function ChatView({ id, onChanged }: { id: string; onChanged: () => void }) {
  const { chat, msgs, err, notice, hasMore, older, streaming, load, loadOlder: fetchOlder, send: post, stop: stopIt } = useChat(id, onChanged);
  const draft = useSignal('');
  useSavedDraft(draft, `chat:${id}`); // auto_save (autosave.ts)
  const sending = useSignal(false);
  const saving = useSignal(false);
  // Save to project (the workbench seed): a project keeping this conversation,
  // named after the chat; the project opens.
  const saveToProject = async () => {
    saving.value = true;
    try {
      const p = await api.createProject({ chatId: id });
      go(`/projects/${p.id}`);
    } catch (x) {
      err.value = errText(x);
    } finally {
      saving.value = false;
    }
  };
  const end = useRef<HTMLDivElement>(null);
  const log = useRef<HTMLDivElement>(null);
  // The newest message in view as it grows; a page of older ones put above
  // (loadOlder) changes neither, so the reader's place stays.
  const last = msgs.value[msgs.value.length - 1];
  useEffect(() => end.current?.scrollIntoView?.({ block: 'end' }), [last?.id, last?.content]);
  const loadOlder = async () => {
    const el = log.current;
    const fromBottom = el ? el.scrollHeight - el.scrollTop : 0;
    if (await fetchOlder())
      requestAnimationFrame(() => {
        if (el) el.scrollTop = el.scrollHeight - fromBottom;
      });
  };
  const send = async (e: Event) => {
    e.preventDefault();
    const content = draft.value.trim();
    if (!content || streaming) return;
    sending.value = true;
    if (await post(content)) draft.value = '';
    sending.value = false;
  };

  if (!chat.value && err.value) return <ErrorState message={err.value} onRetry={() => void load()} />;
  if (!chat.value) return <Spinner label="Loading the chat…" />;
  const c = chat.value;
  return (
    <section class="chat-view" aria-label="Chat">
      <div class="page-head">
        <a class="chat-back" href="#/chats">
          ← Chats
        </a>
        <h2 class="panel-title">{c.title || 'New chat'}</h2>
        <span class="muted small">
          {c.model}
          {c.definition ? ` · ${c.definition}` : ''}
          {typeof c.temperature === 'number' ? ` · temperature ${c.temperature}` : ''}
        </span>
        <button class="btn btn-sm" type="button" disabled={saving.value || streaming || msgs.value.length === 0} onClick={() => void saveToProject()}>
          {saving.value ? 'Saving…' : 'Save to project'}
        </button>
      </div>
      <div
        class="chat-log panel glass scroll"
        data-testid="chat-log"
        aria-live="polite"
        ref={log}
        onScroll={(e) => {
          if (e.currentTarget.scrollTop < 60) void loadOlder();
        }}
      >
        {hasMore.value && (
          <p class="small muted older-messages">
            {older.value === 'loading' ? (
              'Loading older messages…'
            ) : (
              <button class="btn btn-sm" type="button" onClick={() => void loadOlder()}>
                Load older messages
              </button>
            )}
            {older.value !== 'idle' && older.value !== 'loading' && <span class="error-text"> {older.value}</span>}
          </p>
        )}
        {msgs.value.length === 0 && <p class="muted">Say something to start.</p>}
        {msgs.value.map((m) => (
          <Bubble key={m.id} m={m} chatId={id} model={c.model} />
        ))}
        <div ref={end} />
      </div>
      {notice.value && (
        <p class="muted small" role="status" data-testid="chat-notice">
          {notice.value}
        </p>
      )}
      {err.value && <p class="error-text">{err.value}</p>}
      <form class="composer" onSubmit={send}>
        <textarea
          aria-label="Message"
          rows={3}
          value={draft.value}
          onInput={(e) => (draft.value = e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) void send(e);
          }}
          placeholder="Ask Claude…"
        />
        {streaming ? (
          <button class="btn btn-danger" type="button" onClick={() => void stopIt()}>
            Stop
          </button>
        ) : (
          <button class="btn btn-primary" type="submit" disabled={sending.value || draft.value.trim() === ''}>
            Send
          </button>
        )}
      </form>
    </section>
  );
}

// ---- the list and a new chat ----------------------------------------------------------

function NewChat({ onCreated }: { onCreated: (c: Chat) => void }) {
  const provider = useSignal<'anthropic' | 'openai'>('anthropic');
  const task = useSignal('');
  // the suggestion and the task text it answers
  const suggestion = useSignal<(Suggestion & { for: string }) | null>(null);
  const model = useSignal(MODELS[0]);
  const temperature = useSignal(0.7);
  const system = useSignal('');
  const definition = useSignal('');
  // Whether the picker holds agentd's suggestion (true) or the user's own
  // choice (false): a suggestion replaces only another suggestion.
  const auto = useSignal(true);
  const { defs, reload: loadDefs } = useDefinitions();
  const err = useSignal<string | null>(null);
  // The definition agentd would pick for the task, as the user types it.
  useEffect(() => {
    const text = task.value.trim();
    if (text.length < 3) {
      suggestion.value = null;
      return;
    }
    const t = setTimeout(() => {
      api
        .selectDefinition(text)
        .then((s) => {
          suggestion.value = { ...s, for: text };
          if (auto.value) definition.value = s.definition && !s.default ? s.definition.name : '';
          // a definition written since the list was read
          if (s.definition && !defs.value.some((d) => d.name === s.definition?.name)) void loadDefs();
        })
        .catch(() => (suggestion.value = null));
    }, 250);
    return () => clearTimeout(t);
  }, [task.value]);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = { provider: provider.value, model: model.value, temperature: temperature.value };
      if (system.value.trim()) body.system = system.value;
      if (definition.value) {
        body.definition = definition.value;
        delete body.model; // the definition's model, unless the user picks one after
      }
      onCreated(await api.createChat(body));
    } catch (x) {
      err.value = errText(x);
    }
  };
  return (
    <form class="panel glass new-chat" onSubmit={create} aria-label="New chat">
      <label class="field">
        <span>Provider</span>
        <select
          value={provider.value}
          onChange={(e) => {
            provider.value = e.currentTarget.value as 'anthropic' | 'openai';
            model.value = provider.value === 'openai' ? 'gpt-4o-mini' : MODELS[0];
          }}
        >
          <option value="anthropic">Anthropic</option>
          <option value="openai">OpenAI-compatible</option>
        </select>
      </label>
      <label class="field">
        <span>Model</span>
        <input list="chat-models" value={model.value} onInput={(e) => (model.value = e.currentTarget.value)} />
        <datalist id="chat-models">
          {MODELS.map((m) => (
            <option key={m} value={m} />
          ))}
        </datalist>
      </label>
      <label class="field">
        <span>Temperature {temperature.value.toFixed(1)}</span>
        <input type="range" min="0" max="1" step="0.1" value={temperature.value} onInput={(e) => (temperature.value = Number(e.currentTarget.value))} />
      </label>
      <label class="field">
        <span>What is it for? (suggests a definition)</span>
        <input value={task.value} onInput={(e) => (task.value = e.currentTarget.value)} placeholder="e.g. review my pull request" />
      </label>
      {suggestion.value && suggestion.value.definition && (
        <p class="small" data-testid="def-suggestion" data-for={suggestion.value.for}>
          {auto.value && definition.value === suggestion.value.definition.name ? 'Picked for the task' : 'Suggested'}:{' '}
          <strong>{suggestion.value.definition.name}</strong>{' '}
          <span class="muted">
            {suggestion.value.default ? '(the default: nothing matched)' : `(score ${suggestion.value.score}: ${suggestion.value.matched.join(', ')})`}
          </span>{' '}
          {definition.value !== suggestion.value.definition.name && (
            <button type="button" class="btn btn-sm" onClick={() => (definition.value = suggestion.value?.definition?.name || '')}>
              Use
            </button>
          )}
        </p>
      )}
      {defs.value.length > 0 && (
        <label class="field">
          <span>Agent definition</span>
          <select
            value={definition.value}
            onChange={(e) => {
              definition.value = e.currentTarget.value;
              auto.value = false;
            }}
          >
            <DefinitionOptions defs={defs.value} />
          </select>
        </label>
      )}
      <label class="field">
        <span>System prompt (optional)</span>
        <textarea rows={2} value={system.value} onInput={(e) => (system.value = e.currentTarget.value)} />
      </label>
      <button class="btn btn-primary" type="submit">
        New chat
      </button>
      {err.value && <p class="error-text">{err.value}</p>}
    </form>
  );
}

export default function ChatsPage({ id }: { id?: string }) {
  const chats = useSignal<Chat[] | null>(null);
  const err = useSignal<string | null>(null);
  const load = async () => {
    try {
      chats.value = (await api.chats()).chats;
      err.value = null;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => {
    void load();
    void loadPrices();
  }, []);
  // Once set up (a key saved), the conversation gets the screen: the key's
  // panel folds away (API keys brings it back) and, with a chat open, the
  // new-chat form waits behind its button.
  const keyed = useSignal<boolean | null>(null);
  const showKeys = useSignal(false);
  const newOpen = useSignal(false);
  const keysShown = keyed.value !== true || showKeys.value;
  const formShown = !id || newOpen.value;
  return (
    <div class={`page chats-page${id ? ' has-chat' : ''}`}>
      <div class="page-head">
        <h1 class="page-title">Chats</h1>
        <WorkbenchNav at="chats" />
        {keyed.value && (
          <button class="btn btn-sm" aria-expanded={showKeys.value} onClick={() => (showKeys.value = !showKeys.value)}>
            API keys
          </button>
        )}
      </div>
      <div hidden={!keysShown}>
        <Credentials onChange={(ok) => (keyed.value = ok)} />
      </div>
      <div class="chats-grid">
        <aside class="chats-side">
          {formShown ? (
            <NewChat
              onCreated={(c) => {
                newOpen.value = false;
                void load();
                go(`/chats/${c.id}`);
              }}
            />
          ) : (
            <button class="btn btn-primary new-chat-open" onClick={() => (newOpen.value = true)}>
              + New chat
            </button>
          )}
          {err.value && <ErrorState message={err.value} onRetry={() => void load()} />}
          {chats.value && chats.value.length === 0 && <Empty title="No chats yet">Start one above.</Empty>}
          <ul class="chat-list" aria-label="Chats">
            {(chats.value || []).map((c) => (
              <li key={c.id} class={c.id === id ? 'active' : ''}>
                <a href={`#/chats/${c.id}`}>{c.title || 'New chat'}</a>
                <span class="muted small">
                  {' '}
                  {ago(c.updatedAt)} · {costOrNoPrice(c.costUsd, c.model, modelPrices.value, fmtCost)}
                </span>
              </li>
            ))}
          </ul>
        </aside>
        <div class="chats-main">{id ? <ChatView id={id} onChanged={() => void load()} /> : <Empty title="Pick a chat">Or start a new one.</Empty>}</div>
      </div>
    </div>
  );
}
