// Whether a model has a price (issue #32: a chat with a model agentd has no
// price for read "$0.00", as if it were free). The daemon prices usage from
// the model_prices setting, then its built-in list prices, by the model's
// exact name or the longest "prefix*" key (src/agent/price.c's
// ad_price_lookup); GET /api/prices gives both, and the same rule is here.
import { signal } from '@preact/signals';

export type Prices = Record<string, unknown>;

/** The built-in prices and the model_prices setting over them, once read
 * (null before, or when they could not be read). */
export const modelPrices = signal<Prices | null>(null);

export function hasPrice(prices: Prices | null | undefined, model: string | null | undefined): boolean {
  if (!prices || typeof prices !== 'object' || !model) return false;
  const exact = prices[model];
  if (exact && typeof exact === 'object') return true;
  let best = -1;
  for (const [k, v] of Object.entries(prices)) {
    if (k.length >= 2 && k.endsWith('*') && k.length - 1 > best && model.startsWith(k.slice(0, -1)) && v && typeof v === 'object') best = k.length - 1;
  }
  return best >= 0;
}

/** A cost as the user should read it: "no price set" for nothing counted
 * because the model has no price (a real $0 is only possible with one). */
export function costOrNoPrice(cost: number | null | undefined, model: string | null | undefined, prices: Prices | null, fmt: (n: number) => string): string {
  const v = Number(cost || 0);
  if (v > 0 || prices === null || hasPrice(prices, model)) return fmt(v);
  return 'no price set';
}
