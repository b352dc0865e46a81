import { describe, expect, it } from 'vitest';
import { escapeHtml, renderMarkdown, safeHref } from '../src/markdown';

// Every tag the renderer may emit; anything else in the output is injection.
const ALLOWED = new Set(['p', 'br', 'strong', 'em', 'del', 'code', 'pre', 'a', 'ul', 'ol', 'li', 'blockquote', 'h3', 'h4', 'h5', 'h6', 'hr']);

function tags(html: string): string[] {
  return [...html.matchAll(/<\/?([a-zA-Z0-9]+)/g)].map((m) => m[1].toLowerCase());
}

const ATTACKS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](https://ok.example/"onmouseover="alert(1))',
  '**<svg onload=alert(1)>**',
  '`<script>`',
  '```html\n<script>alert(1)</script>\n```',
  '> <iframe src="//evil">',
  '- <b onclick=alert(1)>item</b>',
  '[<img src=x onerror=alert(1)>](https://example.com)',
  '<<script>script>alert(1)<</script>/script>',
  '&lt;script&gt; already escaped',
];

describe('renderMarkdown is safe', () => {
  for (const a of ATTACKS) {
    it(`renders ${JSON.stringify(a)} as text`, () => {
      const html = renderMarkdown(a);
      for (const t of tags(html)) expect(ALLOWED.has(t)).toBe(true);
      expect(html).not.toMatch(/<[^>]*\son\w+\s*=/i); // no event handler attribute inside a tag
      expect(html).not.toMatch(/href="(?!https?:|mailto:)/i);
    });
  }

  it('keeps the attacker text visible, escaped', () => {
    expect(renderMarkdown('<script>alert(1)</script>')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(renderMarkdown('&lt;b&gt;')).toBe('<p>&amp;lt;b&amp;gt;</p>');
  });

  it('only links http, https and mailto', () => {
    expect(safeHref('https://a.example/x?y=1')).toBe('https://a.example/x?y=1');
    expect(safeHref('mailto:a@b.c')).toBe('mailto:a@b.c');
    for (const bad of ['javascript:alert(1)', 'java\tscript:x', ' data:x', 'vbscript:x', '//evil.example', '/relative']) expect(safeHref(bad)).toBeNull();
    expect(renderMarkdown('[ok](https://a.example/?q="x")')).toContain('href="https://a.example/?q=&quot;x&quot;"');
  });

  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
  });
});

describe('renderMarkdown formats what agents write', () => {
  it('code fences, inline code, emphasis, lists, headings, quotes', () => {
    const html = renderMarkdown('# Plan\n\nUse `make check` and **never** *skip* it.\n\n- one\n- two\n\n1. a\n2. b\n\n> note\n\n```c\nint *p = &x;\n```');
    expect(html).toBe(
      '<h3>Plan</h3><p>Use <code>make check</code> and <strong>never</strong> <em>skip</em> it.</p>' +
        '<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol><blockquote>note</blockquote>' +
        '<pre data-lang="c"><code>int *p = &amp;x;</code></pre>',
    );
  });
  it('does not parse markdown inside code', () => {
    expect(renderMarkdown('`**not bold**`')).toBe('<p><code>**not bold**</code></p>');
  });
  it('keeps line breaks inside a paragraph and survives an unterminated fence', () => {
    expect(renderMarkdown('a\nb')).toBe('<p>a<br>b</p>');
    expect(renderMarkdown('```\nopen <b>')).toBe('<pre><code>open &lt;b&gt;</code></pre>');
  });
});
