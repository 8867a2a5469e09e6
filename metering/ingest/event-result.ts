// The answer to each event of a batch. An accepted (or duplicate) event carries its tokens, its cost by
// token kind, its tier and label, and the reading after it.
import type { Rejection } from './event-input.js';
import type { StoredEvent } from './event-row.js';
import type { ReservationOutcome, UsageReading } from './usage-counters.port.js';

export interface TokenCounts {
  input: number;
  cached_input: number;
  cache_write: number;
  output: number;
  reasoning: number;
  /** input + cached_input + cache_write + output (reasoning is part of output). */
  total: number;
}

/** A bigint from PostgreSQL as a JS number, refusing anything a number cannot hold exactly. */
export function toCount(value: string | number | bigint | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`token count ${String(value)} is not a safe integer`);
  return n;
}

export function tokenCounts(v: {
  input: string | number | null;
  cached_input: string | number | null;
  cache_write: string | number | null;
  output: string | number | null;
  reasoning: string | number | null;
}): TokenCounts {
  const input = toCount(v.input);
  const cached_input = toCount(v.cached_input);
  const cache_write = toCount(v.cache_write);
  const output = toCount(v.output);
  const reasoning = toCount(v.reasoning);
  return { input, cached_input, cache_write, output, reasoning, total: toCount(input + cached_input + cache_write + output) };
}

export interface AcceptedResult {
  index: number;
  id: string;
  status: 'accepted' | 'duplicate';
  timestamp: string;
  model: string | null;
  tier: string | null;
  priced: boolean;
  /** The model is not in the catalog (or has no price yet): stored, and priced once sales prices it. */
  needs_pricing: boolean;
  tokens: TokenCounts;
  cost: { input: string; cached_input: string; cache_write: string; output: string; reasoning: string; total: string } | null;
  label: string;
  /** The event's period was already invoiced: it will be an adjustment on the next invoice. */
  adjustment: boolean;
  reading: { allowance_left: string | null; budget_left: string | null; budget_tokens_left: number | null };
  /** The reservation the event named and what happened to it (the event is metered whatever it says). */
  reservation?: { id: string; outcome: ReservationOutcome };
  /**
   * Fields of the event's usage object that tokenmeter does not know and did not count, as full paths
   * (`usage.x`, `usage.prompt_tokens_details.y`); only present when there are any. They are counted on
   * /metrics and listed by GET /v1/ignored-usage-fields.
   */
  ignored_usage_fields?: string[];
}

/** The event's ignored usage fields as a result property: none, or the list. */
export function ignoredFieldsOf(e: { ignored_usage_fields: readonly string[] }): { ignored_usage_fields?: string[] } {
  return e.ignored_usage_fields.length === 0 ? {} : { ignored_usage_fields: [...e.ignored_usage_fields] };
}

export interface ConflictResult {
  index: number;
  id: string;
  status: 'conflict';
  code: 'id_conflict';
  message: string;
  fields: string[];
}

export type EventResult = AcceptedResult | ConflictResult | Rejection;

type ResultSource = Pick<
  StoredEvent,
  | 'event_id' | 'ts' | 'model_id' | 'model_name' | 'tier' | 'priced' | 'label' | 'adjustment' | 'allowance_left'
  | 'cost_input' | 'cost_cached_input' | 'cost_cache_write' | 'cost_output' | 'cost_reasoning' | 'cost'
> & { input: string | number; cached_input: string | number; cache_write: string | number; output: string | number; reasoning: string | number };

export function fromStored(e: ResultSource): Omit<AcceptedResult, 'index' | 'status'> {
  return {
    id: e.event_id,
    timestamp: e.ts.toISOString(),
    model: e.model_id ?? e.model_name,
    tier: e.tier,
    priced: e.priced,
    needs_pricing: !e.priced,
    tokens: tokenCounts(e),
    cost:
      e.cost === null
        ? null
        : {
            input: e.cost_input ?? '0',
            cached_input: e.cost_cached_input ?? '0',
            cache_write: e.cost_cache_write ?? '0',
            output: e.cost_output ?? '0',
            reasoning: e.cost_reasoning ?? '0',
            total: e.cost,
          },
    label: e.label,
    adjustment: e.adjustment,
    reading: { allowance_left: e.allowance_left, budget_left: null, budget_tokens_left: null },
  };
}

/** A new event's result with what the counters said: the budget left, and its reservation's outcome. */
export function withCounters(
  result: Omit<AcceptedResult, 'index' | 'status'>,
  row: Pick<StoredEvent, 'reservation_id'>,
  counted: UsageReading | undefined,
): Omit<AcceptedResult, 'index' | 'status'> {
  if (counted === undefined) return result;
  const reading = { ...result.reading, budget_left: counted.budget_left, budget_tokens_left: counted.budget_tokens_left };
  return row.reservation_id !== null && counted.reservation !== null
    ? { ...result, reading, reservation: { id: row.reservation_id, outcome: counted.reservation } }
    : { ...result, reading };
}
