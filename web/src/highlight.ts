// Syntax colours for diff lines: a small tokenizer of our own (comments,
// strings, numbers, keywords) per language family, one line at a time (a
// comment or string that spans lines is coloured on its first line only).

export type TokenClass = 'kw' | 'str' | 'com' | 'num';
export interface Token {
  text: string;
  cls?: TokenClass;
}

interface Lang {
  line: string[]; // line-comment openers
  block: boolean; // /* … */
  quotes: string; // string delimiters
  kw: Set<string>;
}

const words = (s: string) => new Set(s.split(' '));
const C_LIKE =
  'if else for while do switch case default break continue return goto struct union enum typedef static const extern sizeof void int char long short unsigned signed float double bool true false NULL inline volatile';
const LANGS: Record<string, Lang> = {
  js: {
    line: ['//'],
    block: true,
    quotes: `"'\``,
    kw: words(
      'const let var function return if else for while do switch case default break continue new class extends import export from as async await try catch finally throw typeof instanceof in of this super null undefined true false yield interface type enum implements readonly public private protected static',
    ),
  },
  c: {
    line: ['//'],
    block: true,
    quotes: `"'`,
    kw: words(C_LIKE + ' class namespace template typename public private protected virtual override nullptr auto'),
  },
  go: {
    line: ['//'],
    block: true,
    quotes: `"'\``,
    kw: words(
      'package import func var const type struct interface map chan go defer return if else for range switch case default break continue select nil true false',
    ),
  },
  rust: {
    line: ['//'],
    block: true,
    quotes: `"`,
    kw: words(
      'fn let mut const static struct enum impl trait pub use mod crate self Self match if else for while loop return break continue as in ref move async await where true false None Some Ok Err',
    ),
  },
  py: {
    line: ['#'],
    block: false,
    quotes: `"'`,
    kw: words(
      'def class return if elif else for while in not and or is import from as with try except finally raise pass break continue lambda yield None True False async await global nonlocal',
    ),
  },
  sh: { line: ['#'], block: false, quotes: `"'`, kw: words('if then else elif fi for while do done case esac function return in local export set') },
  sql: {
    line: ['--'],
    block: true,
    quotes: `'"`,
    kw: words(
      'SELECT FROM WHERE INSERT INTO VALUES UPDATE SET DELETE CREATE TABLE INDEX PRIMARY KEY REFERENCES NOT NULL AND OR ON JOIN LEFT ORDER BY GROUP LIMIT AS DEFAULT INTEGER TEXT select from where insert into values update set delete create table index primary key references not null and or on join order by group limit as default integer text',
    ),
  },
  yaml: { line: ['#'], block: false, quotes: `"'`, kw: words('true false null yes no') },
};
const EXT: Record<string, string> = {
  js: 'js',
  mjs: 'js',
  cjs: 'js',
  jsx: 'js',
  ts: 'js',
  tsx: 'js',
  mts: 'js',
  json: 'js',
  c: 'c',
  h: 'c',
  cc: 'c',
  cpp: 'c',
  hpp: 'c',
  cxx: 'c',
  java: 'c',
  cs: 'c',
  kt: 'c',
  swift: 'c',
  go: 'go',
  rs: 'rust',
  py: 'py',
  sh: 'sh',
  bash: 'sh',
  zsh: 'sh',
  sql: 'sql',
  yml: 'yaml',
  yaml: 'yaml',
  toml: 'yaml',
};

export function langOf(path: string): string | null {
  const base = path.split('/').pop() || '';
  if (base === 'Makefile' || base === 'Dockerfile') return 'sh';
  const m = /\.([A-Za-z0-9]+)$/.exec(base);
  return (m && EXT[m[1].toLowerCase()]) || null;
}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isWord = (c: string) => /[A-Za-z0-9_$]/.test(c);

export function tokenize(line: string, lang: string | null): Token[] {
  const L = lang ? LANGS[lang] : undefined;
  if (!L) return [{ text: line }];
  const out: Token[] = [];
  let plain = '';
  const push = (text: string, cls: TokenClass) => {
    if (plain) out.push({ text: plain });
    plain = '';
    out.push({ text, cls });
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    const rest = line.slice(i);
    if (L.line.some((p) => rest.startsWith(p))) {
      push(rest, 'com');
      break;
    }
    if (L.block && rest.startsWith('/*')) {
      const end = line.indexOf('*/', i + 2);
      const j = end < 0 ? line.length : end + 2;
      push(line.slice(i, j), 'com');
      i = j;
    } else if (L.quotes.includes(c)) {
      let j = i + 1;
      while (j < line.length && line[j] !== c) j += line[j] === '\\' ? 2 : 1;
      j = Math.min(j + 1, line.length);
      push(line.slice(i, j), 'str');
      i = j;
    } else if (isDigit(c) && (i === 0 || !isWord(line[i - 1]))) {
      let j = i + 1;
      while (j < line.length && /[0-9A-Fa-fxX._]/.test(line[j])) j++;
      push(line.slice(i, j), 'num');
      i = j;
    } else if (isWord(c) && (i === 0 || !isWord(line[i - 1]))) {
      let j = i + 1;
      while (j < line.length && isWord(line[j])) j++;
      const w = line.slice(i, j);
      if (L.kw.has(w)) push(w, 'kw');
      else plain += w;
      i = j;
    } else {
      plain += c;
      i++;
    }
  }
  if (plain) out.push({ text: plain });
  return out;
}
