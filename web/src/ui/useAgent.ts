// The agent page's state apart from how it is shown (AgentPage.tsx,
// AgentHeader.tsx, AgentWork.tsx): the open agent loaded and followed, Esc
// back to the grid, the actions of its header (one at a time, the agent the
// server answers taken in), the approvals waiting and the composer.
import { computed, signal, useSignal, type Signal } from '@preact/signals';
import { useEffect, useLayoutEffect, useMemo } from 'preact/hooks';
import { api } from '../api';
import { useSavedDraft } from '../autosave';
import { inputBlockedReason } from '../input';
import { withLimitConfirm } from '../limits';
import { fromGrid, go } from '../router';
import { addSentMessage, agentRequest, loadRuns, loadTranscript, model, setOpenAgent, setPendingApprovals, toastError } from '../store';
import { typingIn } from '../tasks';
import type { Agent, Approval } from '../types';
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
      agentRequest(id, () => api.agent(id)).catch((e) => {
        if (e && e.status === 404) notFound.value = true;
        else err.value = errText(e);
      });
    loadTranscript(id).catch((e) => (err.value = errText(e)));
    loadRuns(id).catch(() => undefined);
    return () => {
      setOpenAgent(null, id);
    };
  }, [id]);
  // Read through computeds: another agent's output line (a new model) does
  // not draw this page again, only a change of this agent or transcript.
  const agent = useMemo(() => computed(() => model.value.agents[id]), [id]);
  const transcript = useMemo(() => computed(() => model.value.transcripts[id]), [id]);
  return { agent: agent.value, transcript: transcript.value, err, notFound };
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
      await agentRequest(agent.id, f);
    } catch (e) {
      toastError(`${label} failed`, e);
    } finally {
      busy.value = null;
    }
  };
  return { busy, act };
}

// The agent's tool calls waiting for the user: stored on the daemon, so
// they are here again after a reload; reloaded on every approval event and
// status change, and told to the store (the transcript marks them).
export function useApprovals(agent: Agent) {
  const list = useSignal<Approval[]>([]);
  const busy = useSignal<string | null>(null);
  const load = () =>
    api
      .approvals(agent.id)
      .then((l) => {
        list.value = l;
        setPendingApprovals(agent.id, l);
      })
      .catch(() => undefined);
  useEffect(() => {
    void load();
  }, [agent.id, agent.status, agent.approvalsRev]);
  const decide = async (a: Approval, d: 'allow' | 'deny' | 'allow_always') => {
    busy.value = a.id;
    try {
      await api.decide(a.id, d);
      list.value = list.value.filter((x) => x.id !== a.id);
      setPendingApprovals(agent.id, list.value);
      if (d === 'allow_always') agentRequest(agent.id, () => api.agent(agent.id)).catch(() => undefined);
    } catch (e) {
      toastError('Decision not taken', e);
      void load();
    } finally {
      busy.value = null;
    }
  };
  return { list, busy, decide };
}

// The composer's text and send: refused while the agent takes no input
// (reason), past a usage limit only once confirmed; the sent message shown
// at once (its message_created event merges into it). focus: called after.
// What is typed to each agent, kept per agent while the dashboard is open:
// a half-typed message stays with its agent when another agent's page opens
// (issue #74: it followed you, and Enter sent it to the wrong agent).
const drafts = new Map<string, Signal<string>>();
function draftOf(agentId: string): Signal<string> {
  let s = drafts.get(agentId);
  if (!s) drafts.set(agentId, (s = signal('')));
  return s;
}

export function useComposer(agent: Agent, focus: () => void) {
  const text = draftOf(agent.id);
  useSavedDraft(text, `agent:${agent.id}`); // auto_save (autosave.ts)
  const sending = useSignal(false);
  const reason = inputBlockedReason(agent);
  const send = async () => {
    const content = text.value;
    if (!content.trim() || reason || sending.value) return;
    sending.value = true;
    try {
      const r: any = await withLimitConfirm((force) => api.send(agent.id, content, force));
      if (r === null) return; // not past the limit after all
      text.value = '';
      const mid = r && (r.messageId || r.id);
      if (typeof mid === 'string') {
        addSentMessage({ id: mid, agentId: agent.id, role: 'user', content, createdAt: new Date().toISOString() });
      }
    } catch (e) {
      toastError('Message not sent', e);
    } finally {
      sending.value = false;
      focus();
    }
  };
  return { text, sending, reason, send };
}
