// What a task's classification comes to, as its announcement carries it: its attempts (and how many
// failed) and, per label, how many of its events, tokens and exact cost. A plain function of the
// classification and the task's events.
import { Dec } from '../../tiers/pricing/decimal.js';
import type { TaskClassification, TaskEvent } from './classify.js';
import { SPEND_LABELS, type SpendLabel } from './label-totals.js';

export interface LabelSummary {
  events: number;
  tokens: number;
  /** Exact decimal string. */
  cost: string;
}

export interface TaskSummary {
  attempts: number;
  failed_attempts: number;
  /** Every label, zero where no event has it. */
  labels: Record<SpendLabel, LabelSummary>;
}

export function summarizeTask(result: TaskClassification, events: readonly TaskEvent[]): TaskSummary {
  const sums = new Map<SpendLabel, { events: number; tokens: number; cost: Dec }>(SPEND_LABELS.map((l) => [l, { events: 0, tokens: 0, cost: new Dec(0) }]));
  for (const e of events) {
    const label = result.labels.get(e.event_key);
    if (label === undefined) throw new Error(`event ${e.event_key} was not classified`);
    const s = sums.get(label)!;
    s.events += 1;
    s.tokens += e.tokens;
    s.cost = s.cost.plus(e.cost);
  }
  const labels = Object.fromEntries([...sums].map(([l, s]) => [l, { events: s.events, tokens: s.tokens, cost: s.cost.toFixed() }])) as Record<SpendLabel, LabelSummary>;
  return { attempts: result.attempts.length, failed_attempts: result.attempts.filter((a) => a.outcome === 'failure').length, labels };
}
