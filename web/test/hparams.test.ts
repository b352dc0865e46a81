import { describe, expect, it } from 'vitest';
import {
  checkAll,
  checkValue,
  configColumns,
  fieldOfError,
  fmtNum,
  fromSlider,
  metricNames,
  nextSort,
  parseInput,
  rangeHint,
  tableQuery,
  toSlider,
  type Field,
} from '../src/hparams';

const lr: Field = { name: 'learningRate', type: 'float', min: 1e-6, max: 1e-2, step: 1e-6, log: true, default: 3e-4 };
const mini: Field = { name: 'miniBatchSize', type: 'int', min: 16, max: 512, step: 16, default: 64 };
const opt: Field = { name: 'optimizer', type: 'enum', options: ['adam', 'sgd'], default: 'adam' };

describe('config fields', () => {
  it('hints the range, the step of ints and the log scale', () => {
    expect(rangeHint(lr)).toBe('1e-6 – 0.01 (log)');
    expect(rangeHint(mini)).toBe('16 – 512, steps of 16');
    expect(rangeHint(opt)).toBe('one of adam, sgd');
    expect(fmtNum(0.0003)).toBe('3e-4');
    expect(fmtNum(0.99)).toBe('0.99');
  });
  it('checks values as the server does: range, int step, type, options', () => {
    expect(checkValue(lr, 0.5)).toBe('must be from 1e-6 to 0.01');
    expect(checkValue(lr, 0.000123)).toBeNull(); // a float's step is the slider's only
    expect(checkValue(mini, 24)).toBe('must be from 16 to 512 in steps of 16');
    expect(checkValue(mini, 48)).toBeNull();
    expect(checkValue(mini, 2.5)).toMatch(/whole number/);
    expect(checkValue(mini, NaN)).toMatch(/from 16 to 512/);
    expect(checkValue(opt, 'rmsprop')).toBe('must be one of adam, sgd');
    expect(checkValue({ name: 'b', type: 'bool', default: true }, 1)).toBe('must be true or false');
    expect(checkAll({ id: 's', name: 's', fields: [lr, mini] }, { learningRate: 1, miniBatchSize: 64 })).toEqual({ learningRate: 'must be from 1e-6 to 0.01' });
    expect(parseInput(mini, '')).toBeNaN();
    expect(parseInput(mini, '32')).toBe(32);
  });
  it('maps a log slider both ways and keeps ints on their step', () => {
    expect(toSlider(lr, 1e-6)).toBe(0);
    expect(toSlider(lr, 1e-2)).toBe(1000);
    expect(toSlider(lr, 1e-4)).toBe(500);
    expect(fromSlider(lr, 500)).toBeCloseTo(1e-4, 10);
    expect(fromSlider(mini, 0)).toBe(16);
    expect(fromSlider(mini, 1000)).toBe(512);
    expect((fromSlider(mini, 333) - 16) % 16).toBe(0);
  });
  it('finds the field a 422 names', () => {
    expect(fieldOfError({ field: 'values.gamma', reason: 'x' })).toBe('gamma');
    expect(fieldOfError({ field: 'name' })).toBeNull();
    expect(fieldOfError(undefined)).toBeNull();
  });
});

describe('the runs table', () => {
  it('builds the query, trimming lists and encoding filters', () => {
    expect(
      tableQuery({
        metrics: 'reward, loss:min',
        status: 'succeeded',
        filter: 'learningRate > 0.001, epochs<=10',
        sort: 'reward.best',
        order: 'desc',
        limit: 50,
        offset: 0,
        scope: { workspaceId: 'ws_1' },
      }),
    ).toBe('workspaceId=ws_1&metrics=reward%2Closs%3Amin&status=succeeded&filter=learningRate%3E0.001%2Cepochs%3C%3D10&sort=reward.best&order=desc&limit=50');
    expect(tableQuery({ metrics: '', status: '', filter: '', sort: '', order: 'asc', limit: 10, offset: 20 })).toBe('order=asc&limit=10&offset=20');
  });
  it('flips the order on the same header, starts descending on another', () => {
    expect(nextSort({ sort: 'duration', order: 'desc' }, 'duration')).toEqual({ sort: 'duration', order: 'asc' });
    expect(nextSort({ sort: 'duration', order: 'asc' }, 'config.gamma')).toEqual({ sort: 'config.gamma', order: 'desc' });
  });
  it('lists config columns in first-seen order and metric names without goals', () => {
    expect(configColumns([{ config: null }, { config: { values: { a: 1, b: 2 } } }, { config: { values: { c: 3, a: 1 } } }])).toEqual(['a', 'b', 'c']);
    expect(metricNames('reward, loss:min,')).toEqual(['reward', 'loss']);
  });
});

describe('table cells', () => {
  it('numbers are formatted for reading, not printed raw', async () => {
    const { fmtCell } = await import('../src/hparams');
    expect(fmtCell(0.873423421234)).toBe('0.8734');
    expect(fmtCell(12345)).toBe('12,345');
    expect(fmtCell(0.0003)).toBe('3e-4');
    expect(fmtCell(123.456789)).toBe('123.5');
    expect(fmtCell(2.5e7 + 0.5)).toBe('2.5e+7');
  });
});
