// A small markdown renderer that is safe by construction: every piece of
// source text is HTML-escaped before it reaches the output, the renderer
// only ever emits a fixed set of tags with no attributes except a checked
// href (http, https, mailto; no javascript:, data:, etc.), so agent output
// can never inject markup or script. Supports what agents write: fenced
// and inline code, headings, lists, block quotes, bold, italics, links.

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}

export function safeHref(url: string): string | null {
  const u = url.trim();
  // Control characters and whitespace inside a scheme are how filters get
  // fooled ("java\tscript:"); refuse them outright.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(u)) return null;
  if (/^(https?:\/\/|mailto:)/i.test(u)) return u;
  return null;
}

// Inline spans on one escaped-later line. Code spans are cut out first so
// their content is never parsed further.
function inline(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const tick = src.indexOf('`', i);
    if (tick < 0) {
      out += spans(src.slice(i));
      break;
    }
    const close = src.indexOf('`', tick + 1);
    if (close < 0) {
      out += spans(src.slice(i));
      break;
    }
    out += spans(src.slice(i, tick));
    out += '<code>' + escapeHtml(src.slice(tick + 1, close)) + '</code>';
    i = close + 1;
  }
  return out;
}

function spans(text: string): string {
  // Links first: [label](url). The label is rendered recursively as text.
  let out = '';
  const re = /\[([^\]\n]{1,500})\]\(([^)\s]{1,2000})\)/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    out += emphasis(text.slice(last, m.index));
    const href = safeHref(m[2]);
    if (href) out += `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${emphasis(m[1])}</a>`;
    else out += emphasis(m[0]);
    last = m.index + m[0].length;
  }
  return out + emphasis(text.slice(last));
}

function emphasis(text: string): string {
  let s = escapeHtml(text);
  s = s.replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, '$1<em>$2</em>');
  s = s.replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, '$1<em>$2</em>');
  s = s.replace(/~~([^~\n]+)~~/g, '<del>$1</del>');
  return s;
}

export function renderMarkdown(src: string): string {
  const lines = String(src ?? '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const out: string[] = [];
  let para: string[] = [];
  let list: { ordered: boolean; items: string[] } | null = null;
  let quote: string[] = [];

  const flushPara = () => {
    if (para.length) out.push('<p>' + para.map(inline).join('<br>') + '</p>');
    para = [];
  };
  const flushList = () => {
    if (list) {
      const tag = list.ordered ? 'ol' : 'ul';
      out.push(`<${tag}>` + list.items.map((it) => '<li>' + inline(it) + '</li>').join('') + `</${tag}>`);
    }
    list = null;
  };
  const flushQuote = () => {
    if (quote.length) out.push('<blockquote>' + quote.map(inline).join('<br>') + '</blockquote>');
    quote = [];
  };
  const flushAll = () => {
    flushPara();
    flushList();
    flushQuote();
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)\s*([\w+.-]*)/.exec(line);
    if (fence) {
      flushAll();
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      const lang = fence[2] ? ` data-lang="${escapeHtml(fence[2])}"` : '';
      out.push(`<pre${lang}><code>` + escapeHtml(body.join('\n')) + '</code></pre>');
      continue;
    }
    if (/^\s*$/.test(line)) {
      flushAll();
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      flushAll();
      const level = Math.min(6, h[1].length + 2); // keep headings small inside a chat bubble
      out.push(`<h${level}>` + inline(h[2]) + `</h${level}>`);
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushAll();
      out.push('<hr>');
      continue;
    }
    const q = /^\s*>\s?(.*)$/.exec(line);
    if (q) {
      flushPara();
      flushList();
      quote.push(q[1]);
      continue;
    }
    const li = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
    if (li) {
      flushPara();
      flushQuote();
      const ordered = !li[1];
      if (!list || list.ordered !== ordered) {
        flushList();
        list = { ordered, items: [] };
      }
      list.items.push(li[3]);
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      const l = list as { items: string[] };
      l.items[l.items.length - 1] += ' ' + line.trim();
      continue;
    }
    flushList();
    flushQuote();
    para.push(line);
  }
  flushAll();
  return out.join('');
}
