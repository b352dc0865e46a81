import { describe, expect, it } from 'vitest';
import { layoutTrace, type Trace } from '../src/trace';

const at = (ms: number) => new Date(ms).toISOString();

describe('layoutTrace', () => {
  const base: Trace = {
    runId: 'run_1',
    traceId: 'a'.repeat(32),
    spanId: 'r'.repeat(16),
    run: { startedAt: at(1000), endedAt: at(2000), status: 'succeeded', name: 'Agent' },
    spans: [
      {
        spanId: 'b'.repeat(16),
        traceId: 'a'.repeat(32),
        parentSpanId: 'c'.repeat(16),
        name: 'llm_request',
        startUs: 1_300_000,
        endUs: 1_400_000,
        source: 'run',
      },
      {
        spanId: 'c'.repeat(16),
        traceId: 'a'.repeat(32),
        parentSpanId: 'r'.repeat(16),
        name: 'interaction',
        startUs: 1_200_000,
        endUs: 1_600_000,
        source: 'run',
        service: 'claude-code',
      },
      {
        spanId: 'd'.repeat(16),
        traceId: 'a'.repeat(32),
        parentSpanId: 'x'.repeat(16),
        name: 'orphan',
        startUs: 1_100_000,
        endUs: 1_150_000,
        source: 'run',
        status: 2,
      },
      {
        spanId: 'e'.repeat(16),
        traceId: 'a'.repeat(32),
        parentSpanId: 'r'.repeat(16),
        name: 'execute_tool Bash',
        startUs: 1_700_000,
        endUs: 1_800_000,
        source: 'agentd',
      },
    ],
  };

  it('nests spans under their parents, the run first, each level in start order', () => {
    const rows = layoutTrace(base, 5000);
    expect(rows.map((r) => [r.name, r.depth])).toEqual([
      ['invoke_agent Agent', 0],
      ['orphan', 1],
      ['interaction', 1],
      ['llm_request', 2],
      ['execute_tool Bash', 1],
    ]);
    expect(rows[0].left).toBe(0);
    expect(rows[0].width).toBe(1);
    const llm = rows.find((r) => r.name === 'llm_request')!;
    expect(llm.left).toBeCloseTo(0.3);
    expect(llm.width).toBeCloseTo(0.1);
    expect(llm.durationMs).toBe(100);
    expect(rows.find((r) => r.name === 'orphan')!.error).toBe(true);
    expect(rows.find((r) => r.name === 'interaction')!.service).toBe('claude-code');
  });

  it('runs a live run to now, and widens to spans that overrun it', () => {
    const live = { ...base, run: { ...base.run, endedAt: null }, spans: [{ ...base.spans[1], parentSpanId: base.spanId, endUs: 2_500_000 }] };
    const rows = layoutTrace(live, 3000);
    expect(rows[0].durationMs).toBe(2000);
    expect(rows[1].left).toBeCloseTo(0.1);
    expect(rows[1].width).toBeCloseTo(0.65);
  });

  it('survives a cycle a sender made up', () => {
    const cyc = {
      ...base,
      spans: [
        { ...base.spans[0], spanId: '1'.repeat(16), parentSpanId: '2'.repeat(16) },
        { ...base.spans[0], spanId: '2'.repeat(16), parentSpanId: '1'.repeat(16) },
      ],
    };
    const rows = layoutTrace(cyc, 5000);
    expect(rows.length).toBe(1); // neither is reachable from the run
  });
});
