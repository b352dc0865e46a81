// One file's patch, unified or side by side: line numbers, syntax colours
// (our own small tokenizer), and comments on lines: a line number is a
// button that opens a comment box under the line; a comment stays shown
// under its line until it is sent or removed.
import { useSignal } from '@preact/signals';
import { useMemo } from 'preact/hooks';
import { lineKey, parsePatch, splitRows, type DiffLine } from '../diffparse';
import { langOf, tokenize } from '../highlight';
import type { ReviewComment } from '../review';

export type Layout = 'unified' | 'split';

interface Props {
  path: string;
  patch: string;
  layout: Layout;
  comments: Record<string, ReviewComment>;
  canComment: boolean;
  onComment: (key: string, line: DiffLine, text: string | null) => void;
}

const CLS: Record<string, string> = { add: 'add', del: 'rem', ctx: 'ctx', hunk: 'hunk', meta: 'meta' };

function Code({ line, lang }: { line: DiffLine; lang: string | null }) {
  const toks = line.kind === 'hunk' || line.kind === 'meta' ? [{ text: line.text }] : tokenize(line.text, lang);
  return (
    <>
      {toks.map((t, i) =>
        t.cls ? (
          <span key={i} class={`tok-${t.cls}`}>
            {t.text}
          </span>
        ) : (
          t.text
        ),
      )}
    </>
  );
}

export function DiffView(p: Props) {
  const lines = useMemo(() => parsePatch(p.patch), [p.patch]);
  const lang = langOf(p.path);
  const editing = useSignal<string | null>(null);
  const draft = useSignal('');
  const open = (l: DiffLine) => {
    const key = lineKey(p.path, l);
    editing.value = key;
    draft.value = p.comments[key]?.text ?? '';
  };
  const num = (l: DiffLine | undefined, no: number | undefined) =>
    l && no !== undefined && l.kind !== 'hunk' && l.kind !== 'meta' ? (
      p.canComment ? (
        <button class="ln-btn" aria-label={`Comment on ${p.path}:${no}`} title="Comment on this line" onClick={() => open(l)}>
          {no}
        </button>
      ) : (
        no
      )
    ) : null;
  const codeCell = (l: DiffLine | undefined) => <td class={`code ${l ? CLS[l.kind] : 'empty'}`}>{l ? <Code line={l} lang={lang} /> : null}</td>;
  // The comment (or the box writing it) under a row, for each line it has.
  const notes = (ls: (DiffLine | undefined)[], span: number) =>
    ls.map((l) => {
      if (!l || l.kind === 'hunk' || l.kind === 'meta') return null;
      const key = lineKey(p.path, l);
      const c = p.comments[key];
      if (editing.value === key) {
        return (
          <tr key={'e' + key} class="comment-row">
            <td colSpan={span}>
              <form
                class="comment-box"
                onSubmit={(e) => {
                  e.preventDefault();
                  p.onComment(key, l, draft.value.trim() ? draft.value : null);
                  editing.value = null;
                }}
              >
                <textarea aria-label="Comment" rows={3} value={draft.value} onInput={(e) => (draft.value = e.currentTarget.value)} autoFocus />
                <div class="form-actions">
                  <button type="button" class="btn btn-sm" onClick={() => (editing.value = null)}>
                    Cancel
                  </button>
                  <button type="submit" class="btn btn-sm btn-primary" disabled={!draft.value.trim()}>
                    {c ? 'Save comment' : 'Add comment'}
                  </button>
                </div>
              </form>
            </td>
          </tr>
        );
      }
      if (!c) return null;
      return (
        <tr key={'c' + key} class="comment-row">
          <td colSpan={span}>
            <div class="diff-comment">
              <span class="comment-text">{c.text}</span>
              <button class="btn btn-sm" onClick={() => open(l)}>
                Edit
              </button>
              <button class="btn btn-sm" onClick={() => p.onComment(key, l, null)}>
                Remove
              </button>
            </div>
          </td>
        </tr>
      );
    });

  if (p.layout === 'split') {
    return (
      <table class="diff-table split">
        <colgroup>
          <col class="ln-col" />
          <col />
          <col class="ln-col" />
          <col />
        </colgroup>
        <tbody>
          {splitRows(lines).flatMap((r, i) => {
            if (r.full)
              return [
                <tr key={i}>
                  <td colSpan={4} class={`code ${CLS[r.full.kind]}`}>
                    {r.full.text}
                  </td>
                </tr>,
              ];
            const same = r.left === r.right;
            return [
              <tr key={i}>
                <td class="ln">{num(r.left, r.left?.oldNo)}</td>
                {codeCell(r.left)}
                <td class="ln">{num(r.right, r.right?.newNo)}</td>
                {codeCell(r.right)}
              </tr>,
              ...notes(same ? [r.right] : [r.left, r.right], 4),
            ];
          })}
        </tbody>
      </table>
    );
  }
  return (
    <table class="diff-table unified">
      <colgroup>
        <col class="ln-col" />
        <col class="ln-col" />
        <col />
      </colgroup>
      <tbody>
        {lines.flatMap((l, i) => [
          <tr key={i}>
            <td class="ln">{l.kind === 'del' ? num(l, l.oldNo) : l.oldNo}</td>
            <td class="ln">{l.kind !== 'del' ? num(l, l.newNo) : null}</td>
            {codeCell(l)}
          </tr>,
          ...notes([l], 3),
        ])}
      </tbody>
    </table>
  );
}
