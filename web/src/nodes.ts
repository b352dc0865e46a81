// Worker nodes in the dashboard (issue #34), pure: a node's figures as
// the Nodes page shows them, where an agent runs (its badge), and the body
// fields of the node choice in New task / New agent.
import type { WorkerNode } from './api';
import type { Agent } from './types';

const gib = (b?: number) => (b === undefined ? '?' : `${(b / 2 ** 30).toFixed(b < 10 * 2 ** 30 ? 1 : 0)} GiB`);

/** Capabilities and health, one line each. */
export function nodeFigures(n: WorkerNode): { caps: string; health: string } {
  const c = n.caps || {};
  const gpus = (c.gpus || []).map((g) => g.name).join(', ');
  const clis = Object.entries(c.clis || {})
    .map(([k, v]) => (v.version ? `${k} ${v.version}` : k))
    .join(', ');
  const caps = [
    `${c.cpus ?? '?'} CPU`,
    `${gib(c.memTotal)} RAM`,
    gpus ? `GPU: ${gpus}` : 'no GPU',
    clis ? `CLIs: ${clis}` : 'no agent CLI',
    c.agentdVersion ? `agentd ${c.agentdVersion}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const health = [
    c.cpuPct !== undefined ? `CPU ${Math.round(c.cpuPct)}%` : '',
    c.memAvailable !== undefined ? `${gib(c.memAvailable)} free` : '',
    c.diskFree !== undefined ? `disk ${gib(c.diskFree)} free` : '',
    c.load1 !== undefined ? `load ${c.load1.toFixed(2)}` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return { caps, health: health || '—' };
}

/** Where an agent runs: a node's name, "any node" for a placement, or null (here). */
export function agentNode(a: Pick<Agent, 'state'>): string | null {
  const st = (a.state || {}) as Record<string, unknown>;
  if (typeof st.node === 'string' && st.node) return st.node;
  if (st.placement && typeof st.placement === 'object') return 'any node';
  return null;
}

/** The node choice ('' here, '*' any that fits, '*q' the same and its starts wait in the
 * queue for room (issue #77), else a node's name) as agent fields. */
export function nodeFields(choice: string): Record<string, unknown> {
  if (choice === '*') return { placement: {} };
  if (choice === '*q') return { placement: { queue: true } };
  if (choice) return { node: choice };
  return {};
}

/** What a node takes now (issue #77): drained, draining, cordoned or ready. */
export function nodeSchedule(n: Pick<WorkerNode, 'cordoned' | 'draining' | 'drained'>): 'drained' | 'draining' | 'cordoned' | 'ready' {
  if (n.drained) return 'drained';
  if (n.draining) return 'draining';
  if (n.cordoned) return 'cordoned';
  return 'ready';
}

/** Its runs against its capacity: "2 / 4", or "2" without a bound. */
export function nodeCapacity(n: Pick<WorkerNode, 'runs' | 'maxRuns'>): string {
  return typeof n.maxRuns === 'number' ? `${n.runs} / ${n.maxRuns}` : String(n.runs);
}
