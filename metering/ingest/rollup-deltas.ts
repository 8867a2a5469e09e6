// What an event (or a relabelled one) adds to the rollups, as pure functions: one hourly and one daily
// delta per event, merged by key, with a sign so a relabel takes from one label and gives to another.
import { Dec } from '../../tiers/pricing/decimal.js';
import type { DailyDelta, HourlyDelta } from './events.repository.js';

/** The parts of an event the rollups are keyed and summed by. */
export interface RollupSource {
  ts: Date;
  model: string | null;
  tier: string | null;
  unit_id: string | null;
  person_id: string | null;
  agent_id: string | null;
  operation: string | null;
  channel: string | null;
  label: string;
  session_context: string | null;
  input: number;
  cached_input: number;
  cache_write: number;
  output: number;
  reasoning: number;
  /** null while unpriced. */
  cost: string | null;
}

const SUMS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;

type Costed<T> = T & { exact: Dec };

export class RollupDeltas {
  private readonly hourly = new Map<string, Costed<HourlyDelta>>();
  private readonly daily = new Map<string, Costed<DailyDelta>>();

  add(source: RollupSource, sign: 1 | -1 = 1): void {
    const hour = new Date(Math.floor(source.ts.getTime() / 3_600_000) * 3_600_000);
    const dims = {
      model: source.model ?? '',
      tier: source.tier ?? '',
      unit_id: source.unit_id ?? '',
      person_id: source.person_id ?? '',
      agent_id: source.agent_id ?? '',
      operation: source.operation ?? '',
      channel: source.channel ?? '',
      label: source.label,
      session_context: source.session_context ?? '',
    };
    const hourKey = `${hour.getTime()}\u0000${Object.values(dims).join('\u0000')}`;
    const h = this.hourly.get(hourKey) ?? { hour, ...dims, calls: 0, input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, cost: '0', exact: ZERO };
    this.accumulate(h, source, sign);
    this.hourly.set(hourKey, h);

    const day = source.ts.toISOString().slice(0, 10);
    const dayKey = `${day}\u0000${dims.tier}\u0000${dims.label}\u0000${dims.channel}`;
    const d = this.daily.get(dayKey) ?? { day, tier: dims.tier, label: dims.label, channel: dims.channel, calls: 0, input: 0, cached_input: 0, cache_write: 0, output: 0, reasoning: 0, cost: '0', exact: ZERO };
    this.accumulate(d, source, sign);
    this.daily.set(dayKey, d);
  }

  private accumulate(target: Costed<HourlyDelta | DailyDelta>, source: RollupSource, sign: 1 | -1): void {
    target.calls += sign;
    for (const s of SUMS) target[s] += sign * source[s];
    if (source.cost !== null && source.cost !== '0') target.exact = sign === 1 ? target.exact.plus(source.cost) : target.exact.minus(source.cost);
  }

  /** Non-empty deltas in a fixed key order, so concurrent batches lock rollup rows in the same order. */
  hourlyDeltas(): HourlyDelta[] {
    return finish(this.hourly);
  }

  dailyDeltas(): DailyDelta[] {
    return finish(this.daily);
  }
}

const ZERO = new Dec(0);

function finish<T extends HourlyDelta | DailyDelta>(map: Map<string, Costed<T>>): T[] {
  return [...map.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .filter(([, d]) => d.calls !== 0 || SUMS.some((s) => d[s] !== 0) || !d.exact.isZero())
    .map(([, { exact, ...d }]) => ({ ...d, cost: exact.toFixed() }) as unknown as T);
}
