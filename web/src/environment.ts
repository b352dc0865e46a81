// The environment picker of the training seed: which environment (a game,
// a simulator) discovery and training are for. Like the seed's persisted
// app store it is this browser's choice, kept in localStorage with the
// names used before; a discovery job started from the dashboard is named
// after it (the root socket's start_discovery takes the same name as
// `environment`). None at first: the seed's own game ("megabonk") is no
// default for every user (issue #74); its client names it in each call.
import { signal } from '@preact/signals';

const KEY = 'agentd.environment';
const LIST = 'agentd.environments';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function read<T>(key: string, def: T): T {
  try {
    const v = localStorage.getItem(key);
    return v === null ? def : (JSON.parse(v) as T);
  } catch {
    return def;
  }
}

/** null when name is fine, else why not. */
export function envNameError(name: string): string | null {
  return NAME.test(name) ? null : 'letters, digits, dot, dash or underscore, at most 64, starting with a letter or digit';
}

function clean(list: unknown): string[] {
  const out: string[] = [];
  for (const x of Array.isArray(list) ? list : []) if (typeof x === 'string' && !envNameError(x) && !out.includes(x) && out.length < 32) out.push(x);
  return out;
}

const initial = read<unknown>(KEY, '');
/** '' until one is chosen. */
export const environment = signal<string>(typeof initial === 'string' && !envNameError(initial) ? initial : '');
export const environments = signal<string[]>(clean([...clean(read<unknown>(LIST, [])), environment.value]));

/** Chooses name (added to the list when new); false when it is no name. */
export function setEnvironment(name: string): boolean {
  const n = name.trim();
  if (envNameError(n)) return false;
  environment.value = n;
  environments.value = clean([...environments.value, n]);
  try {
    localStorage.setItem(KEY, JSON.stringify(n));
    localStorage.setItem(LIST, JSON.stringify(environments.value));
  } catch {
    /* private mode: it holds for this page */
  }
  return true;
}
