// The agent page's state apart from how it is shown (AgentPage.tsx): the
// open agent loaded and followed, Esc back to the grid, and the actions of
// its header (one at a time, the agent the server answers taken in).
import { useSignal } from '@preact/signals';
import { useEffect, useLayoutEffect } from 'preact/hooks';
import { api } from '../api';
import { fromGrid, go } from '../router';
import { loadRuns, loadTranscript, model, setOpenAgent, toastError, upsertAgent } from '../store';
import { typingIn } from '../tasks';
import type { Agent } from '../types';
import { errText } from './common';

// Agent id, open: its row (fetched when the tree has not brought it), its
// transcript and runs loaded, and the store told it is open (its events then
// fill the transcript) until the page goes.
export function useOpenAgent(id: string) {
  const err = useSignal<string | null>(null);
  const notFound = useSignal(false);
  useEffect(() => {
    setOpenAgent(id);
    err.value = null;
    notFound.value = false;
    if (!model.value.agents[id])
      api
        .agent(id)
        .then(upsertAgent)
        .catch((e) => {
          if (e && e.status === 404) notFound.value = true;
          else err.value = errText(e);
        });
    loadTranscript(id).catch((e) => (err.value = errText(e)));
    loadRuns(id).catch(() => undefined);
    return () => {
      setOpenAgent(null, id);
    };
  }, [id]);
  return { agent: model.value.agents[id], transcript: model.value.transcripts[id], err, notFound };
}

// Opened from the grid: Esc (outside a text field, terminal or dialog) goes
// back to it. A layout effect, so the key works as soon as the page shows.
export function useEscBackToGrid(id: string) {
  useLayoutEffect(() => {
    if (!fromGrid.value) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape' || e.defaultPrevented || typingIn(e) || document.querySelector('.modal-back')) return;
      fromGrid.value = false;
      go('/grid');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [id, fromGrid.value]);
}

// act(label, f): runs one action on agent (busy names it meanwhile), takes
// the agent the server answers, and says in a toast when it failed.
export function useAgentAction(agent: Agent) {
  const busy = useSignal<string | null>(null);
  const act = async (label: string, f: () => Promise<unknown>) => {
    busy.value = label;
    try {
      const r = await f();
      if (r && typeof r === 'object' && (r as Agent).id === agent.id) upsertAgent(r as Agent);
    } catch (e) {
      toastError(`${label} failed`, e);
    } finally {
      busy.value = null;
    }
  };
  return { busy, act };
}
