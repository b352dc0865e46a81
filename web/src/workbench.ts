// Pure helpers of the workbench pages (Chats, Projects), kept apart from
// the components so the unit tests reach them: a chat's messages updated by
// the live stream events, its tool calls as text, whether an answer names
// files, the file tree.

export interface ChatMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted';
  error?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  costUsd?: number | null;
  toolCalls?: ToolCall[] | null;
}

// A tool call the model made in an answer (stored, never run by agentd).
export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
  arguments?: string; // when the arguments were no JSON
  truncated?: boolean;
}

// One line per call: name(arguments as compact JSON, or the raw text),
// cut at max characters.
export function toolCallText(c: ToolCall, max = 200): string {
  const args = c.input === null || c.input === undefined ? c.arguments || '' : JSON.stringify(c.input);
  const s = `${c.name || '(unnamed)'}(${args})`;
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

// A stream event (stream_token / stream_complete / stream_error) applied
// to the message it names; the list is unchanged when none is named.
export function applyEvent(msgs: ChatMessage[], type: string, p: any): ChatMessage[] {
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
    if (Array.isArray(p.toolCalls)) m.toolCalls = p.toolCalls;
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

// Whether an answer has a fenced code block whose info string names a file
// (what the server saves: "```ts src/app.ts", "```README.md").
export function namesFiles(md: string): boolean {
  return /^```[^\n]*[\w-][./][\w./-]*[^\n]*\n[\s\S]*?^```/m.test(md);
}

// Paths as a tree, sorted by path, each folder listed once before what it
// holds: [depth, label, path (files only)][].
export function fileTree(paths: string[]): [number, string, string | undefined][] {
  const out: [number, string, string | undefined][] = [];
  const seen = new Set<string>();
  for (const p of [...paths].sort()) {
    const parts = p.split('/');
    for (let i = 0; i < parts.length - 1; i++) {
      const dir = parts.slice(0, i + 1).join('/');
      if (!seen.has(dir)) {
        seen.add(dir);
        out.push([i, parts[i] + '/', undefined]);
      }
    }
    out.push([parts.length - 1, parts[parts.length - 1], p]);
  }
  return out;
}
