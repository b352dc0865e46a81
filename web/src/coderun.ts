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
