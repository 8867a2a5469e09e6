// The running totals a live stream carries: read once from the rollups at connect, then each streamed
// operation added on. Pure, so the arithmetic is tested without a socket.
import { Dec } from '../../tiers/pricing/decimal.js';
import { addTokens, formatCost, toCount, type MeterSums, type TokenCounts } from '../readings/meter-sums.js';
import type { EventView } from '../readings/event-view.js';

export interface StreamTotals {
  calls: number;
  tokens: TokenCounts;
  /** Exact decimal string; unpriced operations add nothing until they are priced. */
  cost: string;
  /** The tokens of unpriced operations, which `cost` leaves out. */
  unpriced_tokens: number;
}

export function streamTotals(sums: MeterSums): StreamTotals {
  return { calls: sums.calls, tokens: { ...sums.tokens }, cost: sums.cost, unpriced_tokens: sums.unpriced_tokens };
}

export function addOperation(totals: StreamTotals, event: EventView): StreamTotals {
  return {
    calls: totals.calls + 1,
    tokens: addTokens(totals.tokens, event.tokens),
    cost: event.cost === null ? totals.cost : formatCost(new Dec(totals.cost).plus(event.cost.total)),
    unpriced_tokens: event.priced ? totals.unpriced_tokens : toCount(totals.unpriced_tokens + event.tokens.total),
  };
}

/** Whether an operation falls in the period [from, to) the totals are for. */
export function inPeriod(event: EventView, period: { from: Date; to: Date }): boolean {
  const at = Date.parse(event.timestamp);
  return at >= period.from.getTime() && at < period.to.getTime();
}
