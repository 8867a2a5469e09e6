// The running totals a live stream carries: read once from the rollups at connect, then each streamed
// operation added on. Pure, so the arithmetic is tested without a socket.
import { Dec } from '../../tiers/pricing/decimal.js';
import { addTokens, formatCost, toCount, type MeterSums, type TokenCounts } from '../readings/meter-sums.js';
import type { EventView } from '../readings/event-view.js';
import type { VisibilityScope } from '../readings/reading-query.js';

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

/**
 * Which operations a stream shows: what its key may read (`visible`: a member's or agent's own person and
 * the people of its unit, as readings scope them; null for every operation of the account), narrowed to
 * one person when `person` is set.
 */
export interface StreamScope {
  person: string | null;
  visible: VisibilityScope | null;
}

export function inScope(event: Pick<EventView, 'person_id' | 'unit_id'>, scope: StreamScope): boolean {
  if (scope.person !== null && event.person_id !== scope.person) return false;
  const v = scope.visible;
  return v === null || event.person_id === v.personId || (v.unitId !== null && event.unit_id === v.unitId);
}

/** Whether an operation falls in the period [from, to) the totals are for. */
export function inPeriod(event: EventView, period: { from: Date; to: Date }): boolean {
  const at = Date.parse(event.timestamp);
  return at >= period.from.getTime() && at < period.to.getTime();
}
