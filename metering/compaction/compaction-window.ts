// Which time buckets a compaction folds: the closed ones (before the current UTC hour, and before the
// current UTC day for the daily rollups), as far back as its lookback reaches. Pure, so it is tested alone.
import type { CompactionWindow } from './compaction.repository.js';

/** How far back the hourly job looks: writes to older buckets (late events, relabels) are rare and stay correct unfolded. */
export const DEFAULT_LOOKBACK_HOURS = 48;

const HOUR_MS = 3_600_000;

/** `lookbackHours` null: every closed bucket, however old (`npm run compact -- --all`). */
export function compactionWindow(now: Date, lookbackHours: number | null): CompactionWindow {
  if (lookbackHours !== null && (!Number.isInteger(lookbackHours) || lookbackHours < 1)) {
    throw new RangeError(`lookback must be a whole number of hours >= 1, got ${lookbackHours}`);
  }
  const hourTo = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);
  const dayTo = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (lookbackHours === null) return { hour: { from: null, to: hourTo }, day: { from: null, to: isoDate(dayTo) } };
  // The daily buckets reach back the whole days that cover the lookback.
  const days = Math.ceil(lookbackHours / 24);
  return {
    hour: { from: new Date(hourTo.getTime() - lookbackHours * HOUR_MS), to: hourTo },
    day: { from: isoDate(new Date(dayTo.getTime() - days * 24 * HOUR_MS)), to: isoDate(dayTo) },
  };
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * The window one rollup table is folded over. `meter_hours` (a row an hour per shard: ~8,760 rows an account
 * a year) is folded over every closed hour however old: the account-wide hourly reading remembers only the
 * hours before the first one with a writer's row (metering/readings/hourly-readings.ts), so one late event
 * days back would otherwise keep the hours since then read afresh on every reading until `compact --all`.
 */
export function tableWindow(table: string, window: CompactionWindow): CompactionWindow {
  return FOLDED_WHOLE.includes(table) ? { ...window, hour: { from: null, to: window.hour.to } } : window;
}

const FOLDED_WHOLE: readonly string[] = ['meter_hours'];
