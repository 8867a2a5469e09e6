// What a meter reading or a listing asks for, parsed from the query string without I/O: RFC 3339 times,
// the hour-aligned range with its defaults, the group_by list, and which rollup can answer it.
import { MeteringError, MeteringErrorCode } from '../metering.errors.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const MAX_RANGE_DAYS = 400;

/** Reading dimensions; `day` and `hour` are UTC time buckets. */
export const GROUP_BY_DIMS = [
  'model',
  'tier',
  'unit',
  'person',
  'agent',
  'operation',
  'channel',
  'label',
  'session_context',
  'day',
  'hour',
] as const;
export type GroupByDim = (typeof GROUP_BY_DIMS)[number];

export const METER_FILTERS = ['person', 'unit', 'agent', 'model', 'channel', 'label'] as const;
export type MeterFilter = (typeof METER_FILTERS)[number];
export type MeterFilters = Partial<Record<MeterFilter, string>>;

/** What the daily rollup is keyed by: anything else needs the hourly one. */
const DAILY_DIMS: ReadonlySet<string> = new Set(['tier', 'label', 'channel', 'day']);

export interface MeterRange {
  from: Date;
  to: Date;
}

export interface MeterQuery extends MeterRange {
  groupBy: GroupByDim[];
  filters: MeterFilters;
}

/** A member's (or an agent's) window on the account: their own usage and their current unit's. */
export interface VisibilityScope {
  personId: string;
  unitId: string | null;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function invalidRange(field: string, message: string): MeteringError {
  return new MeteringError(MeteringErrorCode.InvalidRange, message, { field });
}

/**
 * An RFC 3339 time as an instant. A space where the offset sign should be is read as `+`: an unencoded
 * `+01:00` in a query string arrives as ` 01:00`. Precision below a millisecond is dropped.
 */
export function parseInstant(raw: string, field: string): { at: Date; subMillisecond: boolean } {
  const text = raw.replace(/ (\d{2}:\d{2})$/, '+$1');
  const m = RFC3339.exec(text);
  const bad = () => invalidRange(field, `"${field}" must be an RFC 3339 time, like 2026-03-01T00:00:00Z.`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const fraction = m[7] ?? '';
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) throw bad();
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw bad();
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMinutes * 60_000);
  if (Number.isNaN(at.getTime())) throw bad();
  return { at, subMillisecond: /[1-9]/.test(fraction.slice(3)) };
}

function parseHour(raw: string, field: string): Date {
  const { at, subMillisecond } = parseInstant(raw, field);
  if (subMillisecond || at.getTime() % HOUR_MS !== 0) {
    throw invalidRange(field, `"${field}" must be on a whole hour (readings are kept per hour), like 2026-03-01T00:00:00Z.`);
  }
  return at;
}

export function monthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function nextMonthStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

/** The end of the hour `now` is in: a reading up to it includes the hour in progress. */
export function endOfHour(now: Date): Date {
  return new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
}

/** `from`/`to` of a reading: whole hours, from < to, at most 400 days; by default this month so far. */
export function parseMeterRange(rawFrom: string | undefined, rawTo: string | undefined, now: Date): MeterRange {
  const from = rawFrom === undefined ? monthStart(now) : parseHour(rawFrom, 'from');
  const to = rawTo === undefined ? endOfHour(now) : parseHour(rawTo, 'to');
  if (from.getTime() >= to.getTime()) {
    throw invalidRange(rawFrom === undefined ? 'to' : 'from', `"from" (${from.toISOString()}) must be before "to" (${to.toISOString()}).`);
  }
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw invalidRange('to', `A reading spans at most ${MAX_RANGE_DAYS} days; ask for several.`);
  }
  return { from, to };
}

/** Optional bounds of a listing: any RFC 3339 times, from < to when both are given. */
export function parseListRange(rawFrom: string | undefined, rawTo: string | undefined): { from: Date | null; to: Date | null } {
  const from = rawFrom === undefined ? null : parseInstant(rawFrom, 'from').at;
  const to = rawTo === undefined ? null : parseInstant(rawTo, 'to').at;
  if (from !== null && to !== null && from.getTime() >= to.getTime()) {
    throw invalidRange('from', `"from" (${from.toISOString()}) must be before "to" (${to.toISOString()}).`);
  }
  return { from, to };
}

/** A comma list of dimensions, in the order given, without repeats. */
export function parseGroupBy(raw: string | undefined): GroupByDim[] {
  if (raw === undefined || raw.trim() === '') return [];
  const out: GroupByDim[] = [];
  for (const part of raw.split(',')) {
    const dim = part.trim();
    if (!(GROUP_BY_DIMS as readonly string[]).includes(dim)) {
      throw new MeteringError(
        MeteringErrorCode.InvalidGroupBy,
        `Cannot group by "${dim}"; group_by is a comma list of ${GROUP_BY_DIMS.join(', ')}.`,
        { field: 'group_by' },
      );
    }
    if (!out.includes(dim as GroupByDim)) out.push(dim as GroupByDim);
  }
  return out;
}

/**
 * The daily rollup answers when the range is whole UTC days and every dimension asked for (grouped or
 * filtered) is one it keeps; a visibility scope needs person and unit, so only the hourly one.
 */
export function rollupFor(q: MeterQuery, scope: VisibilityScope | null): 'daily' | 'hourly' {
  if (scope !== null) return 'hourly';
  if (q.from.getTime() % DAY_MS !== 0 || q.to.getTime() % DAY_MS !== 0) return 'hourly';
  if (!q.groupBy.every((d) => DAILY_DIMS.has(d))) return 'hourly';
  if (!Object.keys(q.filters).every((f) => DAILY_DIMS.has(f))) return 'hourly';
  return 'daily';
}
