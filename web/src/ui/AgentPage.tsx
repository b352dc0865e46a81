// The agent page: its header (AgentHeader.tsx), the training state a
// program reports, and tabs for its transcript with the approvals waiting
// and the composer (AgentWork.tsx), its runs, the worktree's diff and, for
// terminal agents, a terminal. Its state is useAgent.ts's.
import { useSignal } from '@preact/signals';
import { lazy, Suspense } from 'preact/compat';
import { useEffect } from 'preact/hooks';
import { seeAgent } from '../attention';
import { followTranscript, loadOlder, loadTranscript, pendingApprovals, toastError, worktrees } from '../store';
import type { Agent } from '../types';
import { Empty, ErrorState, errText, Spinner } from './common';
import { Transcript } from './Transcript';
import { useEscBackToGrid, useOpenAgent } from './useAgent';
import { DiffTab } from './DiffTab';
import { AgentHeader } from './AgentHeader';
import { ApprovalCards, Composer, RunsTab } from './AgentWork';
import { QuietRun } from './QuietRun';

const TerminalView = lazy(() => import('./Terminal'));

type Tab = 'transcript' | 'runs' | 'diff' | 'terminal';

export function isTerminalAgent(a: Agent): boolean {
  return !!(a.terminal || (a.state && (a.state as any).terminal));
}

export function AgentPage({ id, message }: { id: string; message?: string }) {
  const { agent, transcript: t, err, notFound } = useOpenAgent(id);
  // null: the default, the terminal for a terminal agent (a shell), else the transcript.
  const tabSel = useSignal<Tab | null>(null);
  useEffect(() => {
    tabSel.value = message ? 'transcript' : null; // a search hit opens the transcript at it
  }, [id, message]);
  useEscBackToGrid(id);
  // Its page is open: what it did is seen (a turn done stops counting as new).
  useEffect(() => {
    if (agent) seeAgent(agent);
  }, [agent?.id, agent?.status, agent?.updatedAt, agent?.waitingSince]);

  if (notFound.value)
    return (
      <div class="page">
        <Empty title="No such agent">
          It may have been deleted. <a href="#/">Back to the overview</a>.
        </Empty>
      </div>
    );
  if (!agent) return err.value ? <ErrorState message={err.value} onRetry={() => location.reload()} /> : <Spinner label="Loading agent…" />;

  const wt = (worktrees.value || []).find((w) => w.id === agent.worktreeId);
  const showTerm = isTerminalAgent(agent);
  const tabs: [Tab, string][] = [
    ['transcript', 'Transcript'],
    ['runs', 'Runs'],
    ['diff', 'Diff'],
  ];
  if (showTerm) tabs.push(['terminal', 'Terminal']);
  const current: Tab = tabSel.value ?? (showTerm ? 'terminal' : 'transcript');
  const tab = { value: current };
  const alive = agent.status === 'running' || agent.status === 'waiting' || agent.status === 'paused' || agent.status === 'stopping';

  return (
    <div class="page agent-page">
      <AgentHeader agent={agent} worktreeName={wt?.name} />
      <TrainingState state={agent.state as any} />
      <div class="subtabs" role="tablist" aria-label="Agent views">
        {tabs.map(([k, label]) => (
          <button
            key={k}
            role="tab"
            id={`tab-${k}`}
            aria-selected={tab.value === k}
            aria-controls={`panel-${k}`}
            class={`subtab${tab.value === k ? ' active' : ''}`}
            onClick={() => (tabSel.value = k)}
          >
            {label}
          </button>
        ))}
      </div>
      <div class="tabpanel" role="tabpanel" id={`panel-${tab.value}`} aria-labelledby={`tab-${tab.value}`}>
        {tab.value === 'transcript' && (
          <div class="convo">
            {err.value && !t?.loaded && <ErrorState message={err.value} onRetry={() => void loadTranscript(id).catch((e) => (err.value = errText(e)))} />}
            {!err.value && !t?.loaded && <Spinner label="Loading transcript…" />}
            {t?.loaded && t.messages.length === 0 && t.live.length === 0 && agent.status === 'running' && <QuietRun agent={agent} />}
            {t?.loaded && t.messages.length === 0 && t.live.length === 0 && agent.status !== 'running' && (
              <Empty title="No messages yet">Start the agent with a prompt to begin.</Empty>
            )}
            {t?.loaded && (t.messages.length > 0 || t.live.length > 0) && (
              <Transcript
                t={t}
                pending={pendingApprovals.value[id]}
                onLoadOlder={() => loadOlder(id).catch((e) => toastError('Could not load older messages', e))}
                onFollow={(atEnd) => followTranscript(id, atEnd)}
                focus={message}
              />
            )}
            <ApprovalCards agent={agent} />
            <Composer agent={agent} />
          </div>
        )}
        {tab.value === 'runs' && <RunsTab agentId={id} />}
        {tab.value === 'diff' && <DiffTab worktreeId={agent.worktreeId} agentId={agent.id} />}
        {tab.value === 'terminal' && showTerm && (
          <Suspense fallback={<Spinner label="Loading terminal…" />}>
            <TerminalView agentId={id} live={alive} />
          </Suspense>
        )}
      </div>
    </div>
  );
}

// A training program's own state from its agent_update lines (issue #16):
// status, environment, step, reward, fps, success rate, last action and the
// mind panel (intent with confidence; plan, reasoning, skill).
function TrainingState({ state }: { state: any }) {
  if (!state || typeof state !== 'object' || (state.step === undefined && !state.metrics && !state.mind)) return null;
  const m = state.metrics || {};
  const s1 = state.mind?.system1 || {};
  const s2 = state.mind?.system2 || {};
  const num = (v: any, d = 2) => (typeof v === 'number' ? v.toFixed(d) : '–');
  return (
    <section class="panel glass training-state" aria-label="Training state">
      <dl class="training-figures">
        <div>
          <dt>Status</dt>
          <dd>{String(state.status ?? '–')}</dd>
        </div>
        <div>
          <dt>Environment</dt>
          <dd>{String(state.environment ?? '–')}</dd>
        </div>
        <div>
          <dt>Step</dt>
          <dd data-testid="train-step">{typeof state.step === 'number' ? state.step.toLocaleString() : '–'}</dd>
        </div>
        <div>
          <dt>Reward</dt>
          <dd>{num(m.reward)}</dd>
        </div>
        <div>
          <dt>FPS</dt>
          <dd>{num(m.fps, 0)}</dd>
        </div>
        <div>
          <dt>Success</dt>
          <dd>{typeof m.successRate === 'number' ? `${Math.round(m.successRate * 100)}%` : '–'}</dd>
        </div>
        <div>
          <dt>Last action</dt>
          <dd>{String(m.lastAction ?? '–')}</dd>
        </div>
      </dl>
      {state.mind && (
        <div class="mind">
          <div>
            <strong>System 1</strong> intent <span data-testid="mind-intent">{String(s1.intent ?? '–')}</span> (
            {typeof s1.confidence === 'number' ? `${Math.round(s1.confidence * 100)}%` : '–'} confidence)
          </div>
          <div>
            <strong>System 2</strong> plan: {String(s2.plan ?? '–')} · reasoning: {String(s2.reasoning ?? '–')} · skill: {String(s2.skill ?? '–')}
          </div>
        </div>
      )}
    </section>
  );
}
