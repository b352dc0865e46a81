import { describe, expect, it } from 'vitest';
import { agentNode, nodeCapacity, nodeFields, nodeFigures, nodeSchedule } from '../src/nodes';
import type { WorkerNode } from '../src/api';

const node = (caps: WorkerNode['caps']): WorkerNode => ({
  id: 'nd_1',
  name: 'gpu1',
  orgId: 'org_default',
  labels: { zone: 'eu' },
  caps,
  state: 'connected',
  connected: true,
  runs: 2,
  lastSeenAt: '2026-11-24T07:00:00.000Z',
  createdAt: '2026-11-24T06:00:00.000Z',
});

describe('worker nodes', () => {
  it('says what a node offers and how it fares, leaving out what it did not say', () => {
    const f = nodeFigures(
      node({
        cpus: 8,
        memTotal: 64 * 2 ** 30,
        memAvailable: 5.5 * 2 ** 30,
        diskFree: 200 * 2 ** 30,
        cpuPct: 12.4,
        load1: 0.5,
        gpus: [{ index: 0, name: 'A100' }],
        clis: { claude: { path: '/usr/bin/claude', version: '2.0.1' } },
        agentdVersion: '0.1.0',
      }),
    );
    expect(f.caps).toBe('8 CPU · 64 GiB RAM · GPU: A100 · CLIs: claude 2.0.1 · agentd 0.1.0');
    expect(f.health).toBe('CPU 12% · 5.5 GiB free · disk 200 GiB free · load 0.50');
    const bare = nodeFigures(node({}));
    expect(bare.caps).toBe('? CPU · ? RAM · no GPU · no agent CLI');
    expect(bare.health).toBe('—');
  });
  it('an agent runs here, on a named node, or on any node that fits', () => {
    expect(agentNode({ state: null })).toBe(null);
    expect(agentNode({ state: { node: 'gpu1' } })).toBe('gpu1');
    expect(agentNode({ state: { placement: {} } })).toBe('any node');
    expect(nodeFields('')).toEqual({});
    expect(nodeFields('*')).toEqual({ placement: {} });
    expect(nodeFields('*q')).toEqual({ placement: { queue: true } });
    expect(nodeFields('gpu1')).toEqual({ node: 'gpu1' });
  });
});

describe("the operator's tools (issue #77)", () => {
  it("names a node's schedule, draining and drained before cordoned", () => {
    expect(nodeSchedule({})).toBe('ready');
    expect(nodeSchedule({ cordoned: true })).toBe('cordoned');
    expect(nodeSchedule({ cordoned: true, draining: true })).toBe('draining');
    expect(nodeSchedule({ cordoned: true, draining: true, drained: true })).toBe('drained');
  });
  it('shows runs against the capacity, or the runs alone without one', () => {
    expect(nodeCapacity({ runs: 2, maxRuns: 4 })).toBe('2 / 4');
    expect(nodeCapacity({ runs: 2, maxRuns: null })).toBe('2');
    expect(nodeCapacity({ runs: 0 })).toBe('0');
  });
});
