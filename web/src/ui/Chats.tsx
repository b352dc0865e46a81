// The Chats page (issue #18), loaded lazily: chats with Claude through
// agentd's own Messages API client. The list and a New chat form (model,
// temperature, system prompt, agent definition), and the open chat: its
// messages as markdown, the answer streaming in token by token over /ws
// (stream_queued / stream_token / stream_retry / stream_complete / stream_error on
// chat:<id>), Stop (the partial answer is kept), tokens and cost per answer.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { request } from '../api';
import { renderMarkdown } from '../markdown';
import { go } from '../router';
import { Credentials } from './Credentials';
import { ago, Empty, errText, ErrorState, fmtCost, fmtInt, Spinner } from './common';

export interface Chat {
  id: string;
  title?: string | null;
  model: string;
  system?: string | null;
  definition?: string | null;
  temperature?: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  updatedAt: string;
  streaming?: boolean;
  messages?: ChatMessage[];
}

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted';
  error?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  costUsd?: number | null;
}

interface Definition {
  name: string;
  description?: string;
  category?: string;
  model?: string;
}

const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];

// ---- the live channel of one chat -------------------------------------------------

function chatChannel(id: string, onEvent: (type: string, p: any) => void, onOpen: () => void) {
  let ws: WebSocket | null = null;
  let closed = false;
  let timer: any = null;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws`);
    ws.onopen = () => {
      ws?.send(JSON.stringify({ type: 'subscribe', payload: { topics: [`chat:${id}`] } }));
    };
    ws.onmessage = (e) => {
      let m: any;
      try {
        m = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (m.type === 'subscribed') onOpen();
      else if (m.payload && m.payload.sessionId === id) onEvent(m.type, m.payload);
    };
    ws.onclose = () => {
      if (!closed) timer = setTimeout(open, 1000);
    };
  };
  open();
  return () => {
    closed = true;
    clearTimeout(timer);
    ws?.close();
  };
}

// ---- one chat ---------------------------------------------------------------------

function Usage({ m }: { m: ChatMessage }) {
  if (m.role !== 'assistant' || m.status === 'streaming') return null;
  return (
    <div class="chat-usage muted small" data-testid="answer-usage">
      {fmtInt(m.inputTokens || 0)} in · {fmtInt(m.outputTokens || 0)} out · {fmtCost(m.costUsd || 0)}
      {m.status !== 'complete' && <span class={`badge badge-sm status-${m.status}`}> {m.status}</span>}
    </div>
  );
}

function Bubble({ m }: { m: ChatMessage }) {
  return (
    <div class={`chat-msg chat-${m.role}`} data-status={m.status} data-testid={`msg-${m.role}`}>
      <div class="chat-role small muted">{m.role === 'user' ? 'You' : 'Claude'}</div>
      {m.role === 'assistant' ? (
        <div class="md" dangerouslySetInnerHTML={{ __html: renderMarkdown(m.content || (m.status === 'streaming' ? '…' : '')) }} />
      ) : (
        <div class="chat-text">{m.content}</div>
      )}
      {m.error && <div class="error-text small">{m.error}</div>}
      <Usage m={m} />
    </div>
  );
}

function applyEvent(msgs: ChatMessage[], type: string, p: any): ChatMessage[] {
  const i = msgs.findIndex((m) => m.id === p.messageId);
  if (i < 0) return msgs;
  const m = { ...msgs[i] };
  if (type === 'stream_token') m.content = (m.content || '') + p.text;
  else if (type === 'stream_complete') {
    m.content = p.fullMessage;
    m.status = p.stopped ? 'stopped' : 'complete';
    m.inputTokens = p.usage?.inputTokens;
    m.outputTokens = p.usage?.outputTokens;
    m.costUsd = p.usage?.costUsd;
  } else if (type === 'stream_error') {
    m.content = p.partial || '';
    m.status = 'error';
    m.error = `${p.error?.type}: ${p.error?.message}`;
    m.inputTokens = p.usage?.inputTokens;
    m.outputTokens = p.usage?.outputTokens;
    m.costUsd = p.usage?.costUsd;
  } else return msgs;
  const out = msgs.slice();
  out[i] = m;
  return out;
}

function ChatView({ id, onChanged }: { id: string; onChanged: () => void }) {
  const chat = useSignal<Chat | null>(null);
  const msgs = useSignal<ChatMessage[]>([]);
  const err = useSignal<string | null>(null);
  const draft = useSignal('');
  const notice = useSignal<string | null>(null);
  const sending = useSignal(false);
  const end = useRef<HTMLDivElement>(null);
  // Events of an answer this page does not list yet (its tokens can come
  // before the answer to the POST that started it): applied once it is.
  const early = useRef<[string, any][]>([]);
  const apply = (type: string, p: any) => {
    if (!msgs.value.some((m) => m.id === p.messageId)) {
      if (early.current.length < 10000) early.current.push([type, p]);
      return;
    }
    msgs.value = applyEvent(msgs.value, type, p);
  };
  const listed = (list: ChatMessage[]) => {
    msgs.value = list;
    const held = early.current;
    early.current = [];
    for (const [type, p] of held) apply(type, p);
  };

  const load = async () => {
    try {
      const c = await request<Chat>('GET', `/api/chats/${encodeURIComponent(id)}`);
      chat.value = c;
      // The stored text of an answer in flight already holds its early tokens.
      early.current = [];
      msgs.value = c.messages || [];
      err.value = null;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => {
    chat.value = null;
    msgs.value = [];
    const stop = chatChannel(
      id,
      (type, p) => {
        if (type === 'stream_queued') {
          notice.value = `Waiting for the rate limit: the answer starts in about ${Math.max(1, Math.round(p.waitMs / 1000))} s.`;
          return;
        }
        if (type === 'stream_token' && notice.value?.startsWith('Waiting')) notice.value = null;
        if (type === 'stream_retry') {
          notice.value = `The provider answered ${p.status}: trying again in ${(p.waitMs / 1000).toFixed(1)} s (attempt ${p.attempt}).`;
          return;
        }
        apply(type, p);
        if (type === 'stream_complete' || type === 'stream_error') {
          notice.value = null;
          onChanged();
        }
      },
      () => void load(), // (re)subscribed: what streamed meanwhile comes with the chat
    );
    return stop;
  }, [id]);
  useEffect(() => end.current?.scrollIntoView?.({ block: 'end' }), [msgs.value.length, msgs.value[msgs.value.length - 1]?.content]);

  const streaming = msgs.value.some((m) => m.status === 'streaming');
  const send = async (e: Event) => {
    e.preventDefault();
    const content = draft.value.trim();
    if (!content || streaming) return;
    sending.value = true;
    try {
      const r = await request<any>('POST', `/api/chats/${encodeURIComponent(id)}/messages`, { content });
      if (r.queued) notice.value = `Waiting for the rate limit: the answer starts in about ${Math.max(1, Math.round(r.waitMs / 1000))} s.`;
      draft.value = '';
      const have = new Set(msgs.value.map((m) => m.id));
      listed([...msgs.value, ...[r.userMessage, r.assistantMessage].filter((m: ChatMessage) => !have.has(m.id))]);
      err.value = null;
    } catch (x) {
      err.value = errText(x);
    }
    sending.value = false;
  };
  const stopIt = async () => {
    try {
      const m = await request<ChatMessage>('POST', `/api/chats/${encodeURIComponent(id)}/stop`);
      msgs.value = msgs.value.map((x) => (x.id === m.id ? m : x));
    } catch (x) {
      err.value = errText(x);
    }
  };

  if (!chat.value && err.value) return <ErrorState message={err.value} onRetry={() => void load()} />;
  if (!chat.value) return <Spinner label="Loading the chat…" />;
  const c = chat.value;
  return (
    <section class="chat-view" aria-label="Chat">
      <div class="page-head">
        <h2 class="panel-title">{c.title || 'New chat'}</h2>
        <span class="muted small">
          {c.model}
          {c.definition ? ` · ${c.definition}` : ''}
          {typeof c.temperature === 'number' ? ` · temperature ${c.temperature}` : ''}
        </span>
      </div>
      <div class="chat-log panel glass scroll" data-testid="chat-log" aria-live="polite">
        {msgs.value.length === 0 && <p class="muted">Say something to start.</p>}
        {msgs.value.map((m) => (
          <Bubble key={m.id} m={m} />
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
  const model = useSignal(MODELS[0]);
  const temperature = useSignal(0.7);
  const system = useSignal('');
  const definition = useSignal('');
  const defs = useSignal<Definition[]>([]);
  const err = useSignal<string | null>(null);
  useEffect(() => {
    request<{ definitions: Definition[] }>('GET', '/api/definitions')
      .then((r) => (defs.value = r.definitions || []))
      .catch(() => (defs.value = []));
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = { model: model.value, temperature: temperature.value };
      if (system.value.trim()) body.system = system.value;
      if (definition.value) body.definition = definition.value;
      onCreated(await request<Chat>('POST', '/api/chats', body));
    } catch (x) {
      err.value = errText(x);
    }
  };
  return (
    <form class="panel glass new-chat" onSubmit={create} aria-label="New chat">
      <label class="field">
        <span>Model</span>
        <select value={model.value} onChange={(e) => (model.value = e.currentTarget.value)}>
          {MODELS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>Temperature {temperature.value.toFixed(1)}</span>
        <input type="range" min="0" max="1" step="0.1" value={temperature.value} onInput={(e) => (temperature.value = Number(e.currentTarget.value))} />
      </label>
      {defs.value.length > 0 && (
        <label class="field">
          <span>Agent definition</span>
          <select value={definition.value} onChange={(e) => (definition.value = e.currentTarget.value)}>
            <option value="">none</option>
            {defs.value.map((d) => (
              <option key={d.name} value={d.name}>
                {d.name}
                {d.category ? ` (${d.category})` : ''}
              </option>
            ))}
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
      chats.value = (await request<{ chats: Chat[] }>('GET', '/api/chats')).chats;
      err.value = null;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => void load(), []);
  return (
    <div class="page chats-page">
      <div class="page-head">
        <h1 class="page-title">Chats</h1>
      </div>
      <Credentials />
      <div class="chats-grid">
        <aside class="chats-side">
          <NewChat
            onCreated={(c) => {
              void load();
              go(`/chats/${c.id}`);
            }}
          />
          {err.value && <ErrorState message={err.value} onRetry={() => void load()} />}
          {chats.value && chats.value.length === 0 && <Empty title="No chats yet">Start one above.</Empty>}
          <ul class="chat-list" aria-label="Chats">
            {(chats.value || []).map((c) => (
              <li key={c.id} class={c.id === id ? 'active' : ''}>
                <a href={`#/chats/${c.id}`}>{c.title || 'New chat'}</a>
                <span class="muted small">
                  {' '}
                  {ago(c.updatedAt)} · {fmtCost(c.costUsd)}
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
