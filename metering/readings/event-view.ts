// One operation as the listing, the CSV export and the live stream show it, built from a stored event
// row without I/O. `model` is the catalog id, or the reported name while the model is unpriced.
import { formatCost, tokenCounts, type TokenCounts } from './meter-sums.js';

export interface EventCost {
  input: string;
  cached_input: string;
  cache_write: string;
  output: string;
  reasoning: string;
  total: string;
}

export interface EventView {
  id: string;
  timestamp: string;
  received_at: string;
  person_id: string | null;
  agent_id: string | null;
  unit_id: string | null;
  session_id: string | null;
  session_context: string | null;
  task_id: string | null;
  attempt_id: string | null;
  outcome: string | null;
  error_signature: string | null;
  operation: string | null;
  channel: string | null;
  model: string | null;
  model_name: string | null;
  tier: string | null;
  priced: boolean;
  tokens: TokenCounts;
  /** null while the event is unpriced. */
  cost: EventCost | null;
  label: string;
  adjustment: boolean;
  metadata: Record<string, unknown> | null;
}

/** The stored columns a view needs (ingest's StoredEvent satisfies it). */
export interface EventViewSource {
  event_id: string;
  ts: Date;
  received_at: Date;
  person_id: string | null;
  agent_id: string | null;
  unit_id: string | null;
  session_id: string | null;
  session_context: string | null;
  task_id: string | null;
  attempt_id: string | null;
  outcome: string | null;
  error_signature: string | null;
  operation: string | null;
  channel: string | null;
  model_name: string | null;
  model_id: string | null;
  tier: string | null;
  priced: boolean;
  input: string | number;
  cached_input: string | number;
  cache_write: string | number;
  output: string | number;
  reasoning: string | number;
  cost_input: string | null;
  cost_cached_input: string | null;
  cost_cache_write: string | null;
  cost_output: string | null;
  cost_reasoning: string | null;
  cost: string | null;
  label: string;
  adjustment: boolean;
  metadata: Record<string, unknown> | null;
}

export function toEventView(e: EventViewSource): EventView {
  return {
    id: e.event_id,
    timestamp: e.ts.toISOString(),
    received_at: e.received_at.toISOString(),
    person_id: e.person_id,
    agent_id: e.agent_id,
    unit_id: e.unit_id,
    session_id: e.session_id,
    session_context: e.session_context,
    task_id: e.task_id,
    attempt_id: e.attempt_id,
    outcome: e.outcome,
    error_signature: e.error_signature,
    operation: e.operation,
    channel: e.channel,
    model: e.model_id ?? e.model_name,
    model_name: e.model_name,
    tier: e.tier,
    priced: e.priced,
    tokens: tokenCounts(e),
    cost:
      e.cost === null
        ? null
        : {
            input: formatCost(e.cost_input),
            cached_input: formatCost(e.cost_cached_input),
            cache_write: formatCost(e.cost_cache_write),
            output: formatCost(e.cost_output),
            reasoning: formatCost(e.cost_reasoning),
            total: formatCost(e.cost),
          },
    label: e.label,
    adjustment: e.adjustment,
    metadata: e.metadata,
  };
}
