import { describe, expect, it } from 'vitest';
import { defaults, normalizeSettings, validate } from '../src/settings';

describe('settings', () => {
  it('has the defaults of the store', () => {
    expect(defaults()).toEqual({
      theme: 'system',
      notifications: true,
      default_mode: 'regular',
      confirm_delete: true,
      auto_save: true,
      max_context_warning: 80,
      daily_token_limit: 0,
      monthly_token_limit: 0,
      daily_cost_limit: 0,
      monthly_cost_limit: 0,
      health_gpu_util_pct: 85,
      health_gpu_temp_c: 80,
      health_gpu_power_w: 300,
      health_cpu_util_pct: 90,
      health_cpu_temp_c: 85,
      health_mem_used_pct: 90,
      health_disk_used_pct: 90,
      health_service_fps_min: 400,
      health_service_latency_ms: 2,
      summary_model: '',
      summary_provider: 'anthropic',
    });
  });
  it('reads every shape the server may answer with', () => {
    expect(normalizeSettings({ settings: { theme: 'dark', maxContextWarning: 70 } })).toMatchObject({ theme: 'dark', max_context_warning: 70 });
    expect(normalizeSettings([{ key: 'notifications', value: false }])).toMatchObject({ notifications: false });
    expect(normalizeSettings({ default_mode: { value: 'plan', type: 'string' } })).toMatchObject({ default_mode: 'plan' });
    expect(normalizeSettings({ theme: 'purple' }).theme).toBe('system');
  });
  it('refuses wrong types and out-of-range values like the server, sending only changes', () => {
    const cur = defaults();
    expect(validate(cur, { max_context_warning: '101' }).errors.max_context_warning).toMatch(/between 0 and 100/);
    expect(validate(cur, { max_context_warning: 'abc' }).errors.max_context_warning).toMatch(/number/);
    expect(validate(cur, { max_context_warning: '12.5' }).errors.max_context_warning).toMatch(/whole/);
    expect(validate(cur, { theme: 'neon' }).errors.theme).toMatch(/one of/);
    expect(validate(cur, { notifications: 'yes' }).errors.notifications).toMatch(/true or false/);
    expect(validate(cur, { daily_cost_limit: '2.5' }).values).toEqual({ daily_cost_limit: 2.5 });
    expect(validate(cur, { daily_token_limit: '2.5' }).errors.daily_token_limit).toMatch(/whole/);
    expect(validate(cur, { monthly_cost_limit: '-1' }).errors.monthly_cost_limit).toMatch(/between/);
    // the agents' summary model (issue #76): off when empty, a model name else
    expect(validate(cur, { summary_model: ' claude-haiku-4-5 ' }).values).toEqual({ summary_model: 'claude-haiku-4-5' });
    expect(validate(cur, { summary_model: 'no spaces; please' }).errors.summary_model).toMatch(/letters, digits/);
    expect(validate({ ...cur, summary_model: 'x' }, { summary_model: '' }).values).toEqual({ summary_model: '' });
    expect(validate(cur, { summary_provider: 'gemini' }).errors.summary_provider).toMatch(/one of/);
    expect(validate(cur, { max_context_warning: '90', theme: 'system', notifications: false })).toEqual({
      values: { max_context_warning: 90, notifications: false },
      errors: {},
    });
  });
});
