// Code from a chat run in agentd's sandbox (issue #40, the workbench seed's
// code execution, without a cloud service): a fenced block of a language
// agentd can run becomes a command agent in a worktree the user picks, so
// it runs as any agent does, under bubblewrap with the worktree writable
// and the rest of the machine hidden or read-only, with the caller's own
// token and scopes (creating and starting an agent needs write). Never in
// the daemon's process.

export interface CodeBlock {
  lang: string;
  code: string;
}

const INTERP: Record<string, string[]> = {
  sh: ['sh', '-c'],
  shell: ['sh', '-c'],
  bash: ['bash', '-c'],
  python: ['python3', '-c'],
  py: ['python3', '-c'],
  python3: ['python3', '-c'],
  js: ['node', '-e'],
  javascript: ['node', '-e'],
  node: ['node', '-e'],
};

const MAX_CODE = 64 * 1024;

/** The runnable fenced blocks of an answer, in order (at most 20). */
export function runnableBlocks(md: string): CodeBlock[] {
  const out: CodeBlock[] = [];
  const re = /^```([A-Za-z0-9]+)[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(md)) !== null && out.length < 20) {
    const lang = m[1].toLowerCase();
    if (INTERP[lang] && m[2].trim() && m[2].length <= MAX_CODE) out.push({ lang, code: m[2] });
  }
  return out;
}

/** The command that runs the block: argv, never a shell line built from it. */
export function commandFor(b: CodeBlock): string[] {
  return [...INTERP[b.lang], b.code];
}

const DONE = new Set(['finished', 'error', 'stopped', 'idle']);
const OUTPUT_MAX = 65536;

/** What followRun needs from the socket and the API (fakes in tests). */
export interface RunIO {
  subscribe(topics: string[], c: { onEvent: (ev: { type: string; payload?: any }) => void; onResync?: () => void }): () => void;
  start(agentId: string): Promise<unknown>;
  status(agentId: string): Promise<string>;
  output(agentId: string): Promise<string>; // the run's stored output, whole
}

/** Where a followed run stands: its output so far and its status. */
export interface RunView {
  output(text: string): void;
  status(s: string): void;
  error(x: unknown): void; // the start was refused
}

/**
 * Starts the agent and streams its run to view: live agent_output, then the
 * stored output once the status says the run ended. The subscription is
 * made before the start is asked for, so a run that ends at once cannot
 * end unseen (under load the dashboard met that: the output stayed empty).
 * A resync (the socket was away) asks for the status and, if the run
 * ended meanwhile, the stored output. Returns the function that stops it.
 */
export function followRun(agentId: string, io: RunIO, view: RunView): () => void {
  let live = true;
  let text = '';
  const final = () =>
    io.output(agentId).then(
      (t) => {
        if (!live) return;
        text = t;
        view.output(t);
      },
      () => undefined,
    );
  const took = (s: string) => {
    view.status(s);
    if (DONE.has(s)) void final();
  };
  const off = io.subscribe([`agent:${agentId}`], {
    onEvent: (ev) => {
      const p: any = ev.payload || {};
      if (!live || p.agentId !== agentId) return;
      if (ev.type === 'agent_output') {
        text = (text + String(p.content ?? '') + (p.isComplete === false ? '' : '\n')).slice(-OUTPUT_MAX);
        view.output(text);
      }
      if (ev.type === 'agent_status') took(String(p.status));
    },
    onResync: () => {
      void io.status(agentId).then(
        (s) => live && took(s),
        () => undefined,
      );
    },
  });
  io.start(agentId).catch((x) => live && view.error(x));
  return () => {
    live = false;
    off();
  };
}
