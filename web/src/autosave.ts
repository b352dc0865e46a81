// auto_save (seed 001's setting, issue #74): on (the default), what is
// half-typed in a composer (a message to an agent, a chat's) and the
// sidebar's layout are kept in this browser as they are typed, so a reload,
// a closed tab or a crash loses none of it; a sent message's draft goes.
// Off, nothing is kept and what was kept is wiped. Drafts stay in this
// browser (localStorage), never on the server: a half-typed message may
// hold what its writer has not decided to send (a key, a password), and
// the server's copy would be every device's and every admin's to read.
// The training panels' layout is the server's already (PUT
// /api/training/layout), so it follows to another device either way.
import { effect, type Signal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { COLLAPSED_KEY, layoutKept } from './shell';
import { settings, settingsLoaded } from './store';

export const DRAFT_PREFIX = 'agentd.draft.';
type Store = Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'>;

function storage(): Store | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

export function autoSaveOn(): boolean {
  return settings.value.auto_save !== false;
}

/** The draft kept under key ('' when none, or auto_save is off). */
export function loadDraft(key: string, s: Store | null = storage()): string {
  if (!autoSaveOn()) return '';
  try {
    return s?.getItem(DRAFT_PREFIX + key) ?? '';
  } catch {
    return '';
  }
}

/** Keeps text under key (an empty one, or auto_save off: nothing kept). */
export function saveDraft(key: string, text: string, s: Store | null = storage()) {
  try {
    if (autoSaveOn() && text !== '') s?.setItem(DRAFT_PREFIX + key, text);
    else s?.removeItem(DRAFT_PREFIX + key);
  } catch {
    /* private mode or full: kept for this page only */
  }
}

/** Wipes every kept draft and the kept layout. */
export function clearSaved(s: Store | null = storage()) {
  try {
    const keys: string[] = [];
    for (let i = 0; s && i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(DRAFT_PREFIX)) keys.push(k);
    }
    for (const k of keys) s?.removeItem(k);
    s?.removeItem(COLLAPSED_KEY);
  } catch {
    /* nothing to wipe */
  }
}

// Once the server's settings are in: off wipes what was kept, and the
// layout is kept or not with the drafts.
effect(() => {
  if (!settingsLoaded.value) return;
  layoutKept.on = autoSaveOn();
  if (!layoutKept.on) clearSaved();
});

/**
 * Keeps a composer's text under key as it is typed, and brings a kept one
 * back when the composer opens empty. Waits for the server's settings, so
 * a browser whose auto_save is off never shows (nor rewrites) a draft.
 */
export function useSavedDraft(text: Signal<string>, key: string) {
  const loaded = settingsLoaded.value;
  useEffect(() => {
    if (!loaded) return;
    const saved = loadDraft(key);
    if (saved && !text.value) text.value = saved;
    return text.subscribe((v) => saveDraft(key, v));
  }, [key, loaded, text]);
}
