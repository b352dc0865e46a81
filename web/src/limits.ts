// Usage limits as the user meets them: what is close to or past a daily or
// monthly limit (said before a send is refused), and a send that the daemon
// refused with 429 USAGE_LIMIT tried again with force once the user agrees.
import { signal } from '@preact/signals';
import { api, ApiError, type UsageLimit, type UsageLimits } from './api';
import { ask } from './confirm';

export const usageLimits = signal<UsageLimits | null>(null);

export async function loadLimits() {
  try {
    usageLimits.value = await api.usageLimits();
  } catch {
    usageLimits.value = null; // not this token's to see: the daemon still says so on send
  }
}

function share(l: UsageLimit): number {
  const t = l.tokenLimit > 0 ? l.tokensUsed / l.tokenLimit : 0;
  const c = l.costLimitUsd > 0 ? l.costUsedUsd / l.costLimitUsd : 0;
  return Math.max(t, c);
}

/** One line on the nearest limit at 90 % or past it, else null. */
export function limitNotice(ls: UsageLimits | null): { level: 'warn' | 'over'; text: string } | null {
  if (!ls) return null;
  let worst: { period: string; l: UsageLimit; s: number } | null = null;
  for (const period of ['daily', 'monthly'] as const) {
    const l = ls[period];
    if (!l) continue;
    const s = share(l);
    if (s >= 0.9 && (!worst || s > worst.s)) worst = { period, l, s };
  }
  if (!worst) return null;
  const { period, l, s } = worst;
  const what =
    l.tokenLimit > 0 && l.tokensUsed / l.tokenLimit >= s - 1e-9
      ? `${l.tokensUsed.toLocaleString()} of ${l.tokenLimit.toLocaleString()} tokens`
      : `$${l.costUsedUsd.toFixed(2)} of $${l.costLimitUsd.toFixed(2)}`;
  return l.exceeded || s >= 1
    ? { level: 'over', text: `The ${period} usage limit is reached (${what}): starting or messaging an agent asks first.` }
    : { level: 'warn', text: `${Math.round(s * 100)} % of the ${period} usage limit is used (${what}).` };
}

/** Runs send(false); when the daemon refuses it for a usage limit and the
 * user agrees (ask), runs send(true). */
export async function withLimitConfirm<T>(
  send: (force: boolean) => Promise<T>,
  askUser: (msg: string) => boolean | Promise<boolean> = (m) =>
    ask({ title: 'Usage limit reached', body: m, yes: 'Go past the limit', no: 'Not now', danger: true }),
): Promise<T | null> {
  try {
    return await send(false);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 429 || e.code !== 'USAGE_LIMIT') throw e;
    if (!(await askUser(`${e.message.replace(/; send force: true to go past it$/, '')}. Go past the limit this time?`))) return null;
    const r = await send(true);
    void loadLimits();
    return r;
  }
}
