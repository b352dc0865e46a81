// Turns a flat, sorted message list into transcript rows: consecutive
// messages from the same speaker form a group (only the first row shows the
// speaker), a tool call and its result are paired into one collapsible
// row, and live (not stored) output chunks sit where they happened in time.
import type { LiveChunk } from './events';
import type { Message } from './types';

export type Row =
  | { kind: 'message'; key: string; msg: Message; first: boolean; role: string }
  | { kind: 'tool'; key: string; call: Message; result: Message | null; first: boolean }
  | { kind: 'live'; key: string; chunk: LiveChunk; first: boolean };

const GROUP_GAP_MS = 5 * 60 * 1000;

function speaker(m: Message): string {
  return m.role === 'tool' ? 'assistant' : m.role;
}

function isToolCall(m: Message): boolean {
  return m.role === 'tool' || !!m.toolName;
}

function hasOutput(m: Message): boolean {
  return m.toolOutput !== undefined && m.toolOutput !== null && m.toolOutput !== '';
}

function hasInput(m: Message): boolean {
  return m.toolInput !== undefined && m.toolInput !== null && m.toolInput !== '';
}

export function groupMessages(messages: Message[], live: LiveChunk[] = []): Row[] {
  const rows: Row[] = [];
  let prevSpeaker = '';
  let prevTime = 0;
  let li = 0;
  // Live output goes where it happened: before the first message stored
  // after it (a chunk without a time goes last).
  const flushLive = (before: string | null) => {
    while (li < live.length && (before === null || (live[li].ts && live[li].ts < before))) {
      const c = live[li++];
      if (!c.text && !c.open) continue;
      rows.push({ kind: 'live', key: 'live-' + c.seq, chunk: c, first: prevSpeaker !== 'assistant' });
      prevSpeaker = 'assistant';
    }
  };
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    flushLive(m.createdAt || '');
    const who = speaker(m);
    const t = Date.parse(m.createdAt) || 0;
    const first = who !== prevSpeaker || (t && prevTime && t - prevTime > GROUP_GAP_MS) ? true : false;
    prevSpeaker = who;
    prevTime = t || prevTime;
    if (isToolCall(m)) {
      let result: Message | null = null;
      // The daemon stores a call's result over the call (one row). Rows
      // written before that, a call without output followed by its result
      // (the same tool, no input or the same input): one row too.
      const next = messages[i + 1];
      const sameInput = !hasInput(next || ({} as Message)) || JSON.stringify(next?.toolInput) === JSON.stringify(m.toolInput);
      if (!hasOutput(m) && next && isToolCall(next) && next.toolName === m.toolName && hasOutput(next) && sameInput) {
        result = next;
        i++;
      }
      rows.push({ kind: 'tool', key: m.id, call: m, result, first });
      continue;
    }
    rows.push({ kind: 'message', key: m.id, msg: m, first, role: m.role });
  }
  flushLive(null);
  return rows;
}
