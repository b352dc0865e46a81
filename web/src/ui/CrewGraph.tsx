// The open crew on the Crews page (Crews.tsx): its graph (agents as nodes
// around it, each tool call a badge on its agent: running, progress, done,
// failed in red, kept live by the tool events of crew:<id>; the crew-agent
// edge animated while a tool runs; laid out by d3-force run to rest off
// screen and drawn as SVG), its workflow and its members. Also useTopics,
// the page's subscriptions on its one socket.
import { useSignal } from '@preact/signals';
import { forceCenter, forceCollide, forceLink, forceManyBody, forceSimulation, type SimulationNodeDatum } from 'd3-force';
import { useEffect } from 'preact/hooks';
import { api, type Crew } from '../api';
import { go } from '../router';
import { agentList, conn, socket, toast, upsertAgent } from '../store';
import type { Agent, Envelope } from '../types';
import { Empty, errText } from './common';
import { WorkflowPanel } from './WorkflowPanel';

// ---- live topics ---------------------------------------------------------------

// Subscribes topics on the page's one socket while mounted (and deps stay);
// the value is true while the server holds them on a connected socket.
export function useTopics(topics: string[], onEvent: (ev: Envelope) => void, onResync: () => void, deps: unknown[]) {
  const acked = useSignal(false);
  useEffect(() => {
    acked.value = false;
    return socket.subscribe(topics, { onEvent, onResync, onSubscribed: () => (acked.value = true) });
  }, deps);
  return acked.value && conn.value.status === 'connected';
}

// ---- the graph ------------------------------------------------------------------

interface Tool {
  id: string;
  agentId: string;
  name: string;
  state: 'running' | 'success' | 'error';
  progress?: number;
  message?: string;
  duration?: number;
}

interface Node extends SimulationNodeDatum {
  id: string;
  label: string;
  crew?: boolean;
}

const W = 640;
const H = 360;

// Positions for the crew in the middle and its agents around it.
function layout(crew: Crew, agents: Agent[]): Node[] {
  const nodes: Node[] = [{ id: crew.id, label: crew.name, crew: true, fx: W / 2, fy: H / 2 }, ...agents.map((a) => ({ id: a.id, label: a.name }))];
  const links = agents.map((a) => ({ source: crew.id, target: a.id }));
  const sim = forceSimulation(nodes)
    .force(
      'link',
      forceLink(links)
        .id((n: any) => n.id)
        .distance(140),
    )
    .force('charge', forceManyBody().strength(-400))
    .force('collide', forceCollide(48))
    .force('center', forceCenter(W / 2, H / 2))
    .stop();
  sim.tick(200);
  for (const n of nodes) {
    n.x = Math.max(50, Math.min(W - 50, n.x ?? W / 2));
    n.y = Math.max(40, Math.min(H - 40, n.y ?? H / 2));
  }
  return nodes;
}

export function CrewGraph({ crew }: { crew: Crew }) {
  const tools = useSignal<Tool[]>([]);
  const agents = agentList.value.filter((a) => a.crewId === crew.id && !a.deletedAt);
  // tool_start / tool_progress / tool_end of the crew's agents (crew:<id>)
  const onTool = (ev: Envelope) => {
    const f = ev.payload || {};
    if (!ev.type.startsWith('tool_') || f.crewId !== crew.id) return;
    const id = String(f.toolId ?? '');
    const cur = tools.value.filter((t) => !(t.id === id && t.agentId === f.agentId));
    const was = tools.value.find((t) => t.id === id && t.agentId === f.agentId);
    const t: Tool = { ...(was || { id, agentId: f.agentId || '', name: f.name || f.tool || id, state: 'running' }) };
    if (ev.type === 'tool_progress') Object.assign(t, { progress: f.progress, message: f.message });
    if (ev.type === 'tool_end') {
      t.state = f.status === 'error' || (typeof f.exitCode === 'number' && f.exitCode !== 0) ? 'error' : 'success';
      if (typeof f.durationMs === 'number') t.duration = f.durationMs / 1000;
    }
    tools.value = [...cur, t].slice(-200);
  };
  const live = useTopics([`crew:${crew.id}`], onTool, () => (tools.value = []), [crew.id]);
  useEffect(() => {
    tools.value = [];
  }, [crew.id]);
  const nodes = layout(crew, agents);
  const at = new Map(nodes.map((n) => [n.id, n]));
  const centre = at.get(crew.id)!;
  return (
    <section class="panel glass crew-graph" aria-label={`Graph of ${crew.name}`}>
      <div class="page-head">
        <h2>{crew.name}</h2>
        <span class={`live-dot${live ? ' on' : ''}`} data-live={live ? 'yes' : 'no'}>
          {live ? 'Live' : 'Connecting…'}
        </span>
        <div class="form-actions">
          <button class="btn btn-sm" onClick={() => api.crewStart(crew.id).catch((e) => toast('error', 'Start failed', errText(e)))}>
            Start all
          </button>
          <button class="btn btn-sm" onClick={() => api.crewStop(crew.id).catch((e) => toast('error', 'Stop failed', errText(e)))}>
            Stop all
          </button>
        </div>
      </div>
      <WorkflowPanel crewId={crew.id} />
      <CrewMembers crew={crew} agents={agents} />
      {agents.length === 0 ? (
        <Empty title="No agents in this crew">Add an agent above to see its tool calls here, live.</Empty>
      ) : (
        <svg viewBox={`0 0 ${W} ${H}`} class="graph" role="img" aria-label="Agents and their tool calls">
          {agents.map((a) => {
            const n = at.get(a.id)!;
            const busy = tools.value.some((t) => t.agentId === a.id && t.state === 'running');
            return <line key={`l${a.id}`} class={`edge${busy ? ' active' : ''}`} x1={centre.x} y1={centre.y} x2={n.x} y2={n.y} />;
          })}
          <g class="node crew-node">
            <circle cx={centre.x} cy={centre.y} r={26} />
            <text x={centre.x} y={(centre.y ?? 0) + 42}>
              {crew.name}
            </text>
          </g>
          {agents.map((a) => {
            const n = at.get(a.id)!;
            const mine = tools.value.filter((t) => t.agentId === a.id).slice(-3);
            return (
              <g class="node agent-node" key={a.id} data-agent={a.id} onClick={() => go(`/agents/${a.id}`)}>
                <circle cx={n.x} cy={n.y} r={18} class={`st-${a.status}`} />
                <text x={n.x} y={(n.y ?? 0) + 32}>
                  {a.name}
                </text>
                {mine.map((t, i) => (
                  <g key={t.id} class={`tool tool-${t.state}`} data-tool={t.id} data-state={t.state}>
                    <rect x={(n.x ?? 0) + 22} y={(n.y ?? 0) - 20 + i * 16} width={120} height={14} rx={4} />
                    <text x={(n.x ?? 0) + 26} y={(n.y ?? 0) - 9 + i * 16}>
                      {t.name}
                      {t.state === 'running' && t.progress !== undefined ? ` ${t.progress}%` : ''}
                      {t.state === 'success' ? ' ✓' : t.state === 'error' ? ' ✗' : ''}
                    </text>
                  </g>
                ))}
              </g>
            );
          })}
        </svg>
      )}
    </section>
  );
}

// ---- members -----------------------------------------------------------------

/** The crew's agents with a way out each, and a picker to add one. */
function CrewMembers({ crew, agents }: { crew: Crew; agents: Agent[] }) {
  const pick = useSignal('');
  const busy = useSignal(false);
  const others = agentList.value.filter((a) => !a.deletedAt && a.crewId !== crew.id);
  const move = async (id: string, crewId: string | null) => {
    busy.value = true;
    try {
      upsertAgent(await api.patchAgent(id, { crewId }));
      pick.value = '';
    } catch (e) {
      toast('error', crewId ? 'Not added' : 'Not removed', errText(e));
    } finally {
      busy.value = false;
    }
  };
  return (
    <div class="crew-members">
      <ul class="crew-member-list" aria-label={`Agents of ${crew.name}`}>
        {agents.map((a) => (
          <li key={a.id} data-agent={a.id}>
            <a href={`#/agents/${a.id}`}>{a.name}</a>
            <button
              class="icon-btn"
              aria-label={`Remove ${a.name} from ${crew.name}`}
              title="Remove from the crew"
              disabled={busy.value}
              onClick={() => void move(a.id, null)}
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        class="row-form"
        aria-label="Add an agent to the crew"
        onSubmit={(e) => {
          e.preventDefault();
          if (pick.value) void move(pick.value, crew.id);
        }}
      >
        <select aria-label="Agent to add" value={pick.value} onChange={(e) => (pick.value = e.currentTarget.value)} disabled={!others.length}>
          <option value="">{others.length ? 'Pick an agent…' : 'Every agent is in this crew'}</option>
          {others.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
              {a.crewId ? ' (in another crew)' : ''}
            </option>
          ))}
        </select>
        <button type="submit" class="btn btn-sm" disabled={!pick.value || busy.value}>
          Add to crew
        </button>
      </form>
    </div>
  );
}
