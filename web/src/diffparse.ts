// A unified patch (what GET /api/worktrees/:id/diff?path= answers) as rows
// with old and new line numbers, and as side-by-side pairs: a run of
// removed lines faces the run of added lines that follows it.

export type LineKind = 'ctx' | 'add' | 'del' | 'hunk' | 'meta';

export interface DiffLine {
  kind: LineKind;
  text: string; // without the leading '+', '-' or ' '
  oldNo?: number;
  newNo?: number;
}

export interface SplitRow {
  left?: DiffLine; // old side: removed or context
  right?: DiffLine; // new side: added or context
  full?: DiffLine; // a hunk header or a note across both sides
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

export function parsePatch(patch: string): DiffLine[] {
  const out: DiffLine[] = [];
  const lines = patch.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  for (const l of lines) {
    const h = HUNK.exec(l);
    if (h) {
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      inHunk = true;
      out.push({ kind: 'hunk', text: l });
    } else if (!inHunk || l.startsWith('\\')) {
      out.push({ kind: 'meta', text: l });
    } else if (l.startsWith('+')) {
      out.push({ kind: 'add', text: l.slice(1), newNo: newNo++ });
    } else if (l.startsWith('-')) {
      out.push({ kind: 'del', text: l.slice(1), oldNo: oldNo++ });
    } else {
      out.push({ kind: 'ctx', text: l.slice(1), oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return out;
}

export function splitRows(lines: DiffLine[]): SplitRow[] {
  const rows: SplitRow[] = [];
  for (let i = 0; i < lines.length;) {
    const l = lines[i];
    if (l.kind === 'ctx') {
      rows.push({ left: l, right: l });
      i++;
    } else if (l.kind === 'hunk' || l.kind === 'meta') {
      rows.push({ full: l });
      i++;
    } else {
      const dels: DiffLine[] = [];
      const adds: DiffLine[] = [];
      while (i < lines.length && lines[i].kind === 'del') dels.push(lines[i++]);
      while (i < lines.length && lines[i].kind === 'add') adds.push(lines[i++]);
      for (let k = 0; k < Math.max(dels.length, adds.length); k++) rows.push({ left: dels[k], right: adds[k] });
    }
  }
  return rows;
}

// Where a comment on a line points: the new file's line, or for a removed
// line the old file's.
export function lineKey(path: string, l: DiffLine): string {
  return l.kind === 'del' ? `${path}:old:${l.oldNo}` : `${path}:${l.newNo}`;
}
