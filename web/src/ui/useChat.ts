// The state of one open chat and what can be done to it, apart from how it
// is shown (Chats.tsx): its row and messages (loaded, then kept live by the
// events of chat:<id> on the page's one socket), notices while the provider
// makes the answer wait, older pages, sending and stopping.
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { api, type Chat } from '../api';
import { socket } from '../store';
import { applyEvent, type ChatMessage } from '../workbench';
import { errText } from './common';

// Events of chat `id` on the page's one socket; onOpen once the server
// holds the topic, and again when events may have been missed (reload).
function chatChannel(id: string, onEvent: (type: string, p: any) => void, onOpen: () => void) {
  return socket.subscribe([`chat:${id}`], {
    onEvent: (ev) => {
      if (ev.payload && ev.payload.sessionId === id) onEvent(ev.type, ev.payload);
    },
    onSubscribed: onOpen,
    onResync: onOpen,
  });
}

const waitNotice = (ms: number) => `Waiting for the rate limit: the answer starts in about ${Math.max(1, Math.round(ms / 1000))} s.`;

export function useChat(id: string, onChanged: () => void) {
  const chat = useSignal<Chat | null>(null);
  const msgs = useSignal<ChatMessage[]>([]);
  const err = useSignal<string | null>(null);
  const notice = useSignal<string | null>(null);
  const hasMore = useSignal(false);
  const older = useSignal<'idle' | 'loading' | string>('idle');
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
      const c = await api.chat(id);
      chat.value = c;
      // The stored text of an answer in flight already holds its early tokens.
      early.current = [];
      const list = c.messages || [];
      // older pages read before (a reconnect) stay above the newest ones
      const at = list.length ? msgs.value.findIndex((m) => m.id === list[0].id) : -1;
      if (at > 0) msgs.value = [...msgs.value.slice(0, at), ...list];
      else {
        msgs.value = list;
        hasMore.value = !!c.hasMore;
      }
      err.value = null;
    } catch (e) {
      err.value = errText(e);
    }
  };
  useEffect(() => {
    chat.value = null;
    msgs.value = [];
    return chatChannel(
      id,
      (type, p) => {
        if (type === 'stream_queued') {
          notice.value = waitNotice(p.waitMs);
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
  }, [id]);

  // GET /api/chats/:id/messages?before=: the page before the first shown.
  // True when a page was put above.
  const loadOlder = async (): Promise<boolean> => {
    const first = msgs.value[0];
    if (!first || !hasMore.value || older.value === 'loading') return false;
    older.value = 'loading';
    try {
      const r = await api.chatMessagesBefore(id, first.id);
      const have = new Set(msgs.value.map((m) => m.id));
      msgs.value = [...r.messages.filter((m) => !have.has(m.id)), ...msgs.value];
      hasMore.value = r.hasMore;
      older.value = 'idle';
      return true;
    } catch (x) {
      older.value = errText(x);
      return false;
    }
  };

  // Sends a message; true when the server took it.
  const send = async (content: string): Promise<boolean> => {
    try {
      const r = await api.sendChat(id, content);
      if (r.queued) notice.value = waitNotice(r.waitMs);
      const have = new Set(msgs.value.map((m) => m.id));
      listed([...msgs.value, ...[r.userMessage, r.assistantMessage].filter((m: ChatMessage) => !have.has(m.id))]);
      err.value = null;
      return true;
    } catch (x) {
      err.value = errText(x);
      return false;
    }
  };
  const stop = async () => {
    try {
      const m = await api.stopChat(id);
      msgs.value = msgs.value.map((x) => (x.id === m.id ? m : x));
    } catch (x) {
      err.value = errText(x);
    }
  };

  const streaming = msgs.value.some((m) => m.status === 'streaming');
  return { chat, msgs, err, notice, hasMore, older, streaming, load, loadOlder, send, stop };
}
