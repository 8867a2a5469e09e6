// What a meter reading or a listing asks for, parsed from the query string without I/O: RFC 3339 times,
// the hour-aligned range with its defaults, the group_by list, and which rollup ranges answer it.
import { closestMatch } from 'leven';
import { MeteringError, MeteringErrorCode } from '../metering.errors.js';
import { METER_ROLLUPS, type Grain, type MeterDim, type MeterRollupName } from '../ingest/rollup-sql.js';

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

// Every dimension but the time buckets is one the rollups can keep (rollup-sql.ts), and no other.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _dimsAgree: Same<Exclude<GroupByDim, 'day' | 'hour'>, MeterDim> = true;

/** What each rollup can answer: the dimensions it keeps, and the time buckets its grain gives. */
const ANSWERS: ReadonlyMap<MeterRollupName, ReadonlySet<string>> = new Map(
  METER_ROLLUPS.map((r) => [r.name, new Set<string>([...r.dims, 'day', ...(r.grain === 'hour' ? ['hour'] : [])])]),
);

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
    // The field the caller sent (both: "to"), not one the default filled in.
    throw invalidRange(rawTo === undefined && rawFrom !== undefined ? 'from' : 'to', `A reading spans at most ${MAX_RANGE_DAYS} days; ask for several.`);
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
      const guess = dim === '' ? undefined : closestMatch(dim, [...GROUP_BY_DIMS], { maxDistance: Math.min(3, Math.ceil(dim.length / 3)) });
      throw new MeteringError(
        MeteringErrorCode.InvalidGroupBy,
        `Cannot group by "${dim}"; group_by is a comma list of ${GROUP_BY_DIMS.join(', ')}.${guess === undefined ? '' : ` Did you mean "${guess}"?`}`,
        { field: 'group_by' },
      );
    }
    if (!out.includes(dim as GroupByDim)) out.push(dim as GroupByDim);
  }
  return out;
}

/** Every dimension a reading asks for: grouped, filtered, and person and unit for a visibility scope. */
function askedDims(q: Pick<MeterQuery, 'groupBy' | 'filters'>, scope: VisibilityScope | null): string[] {
  return [...q.groupBy, ...Object.keys(q.filters), ...(scope === null ? [] : ['person', 'unit'])];
}

/** The first rollup of this grain (METER_ROLLUPS order: smallest first) that keeps every dimension asked for. */
function rollupFor(grain: Grain, asked: readonly string[]): MeterRollupName | null {
  return METER_ROLLUPS.find((r) => r.grain === grain && asked.every((d) => ANSWERS.get(r.name)!.has(d)))?.name ?? null;
}

/** The day rollup that answers, or null (only an hourly one can). */
export function dayRollupFor(q: Pick<MeterQuery, 'groupBy' | 'filters'>, scope: VisibilityScope | null): MeterRollupName | null {
  return rollupFor('day', askedDims(q, scope));
}

/** The hourly rollup that answers (the full hourly one answers anything). */
export function hourRollupFor(q: Pick<MeterQuery, 'groupBy' | 'filters'>, scope: VisibilityScope | null): MeterRollupName {
  const rollup = rollupFor('hour', askedDims(q, scope));
  if (rollup === null) throw new Error('no hourly rollup keeps every dimension');
  return rollup;
}

/** One contiguous range of a rollup (UTC days for a day rollup, hours for the hourly one), added or taken away. */
export interface RollupPart {
  rollup: MeterRollupName;
  from: Date;
  to: Date;
  sign: 1 | -1;
}

const floorDay = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * Which rollup ranges sum to a reading. When a day rollup can answer (dayRollupFor), the whole UTC days come
 * from it and each partial day at an edge of the range from an hourly one (hourRollupFor): either its hours
 * inside the range, or (when that is fewer hours to read) its whole day from the day rollup less its hours
 * outside it. All rollups hold the same events, so any choice sums to the same reading as the hourly rollup alone;
 * the choice only decides how many rows are read. Hours after the current one count as free: nothing has
 * happened in them yet, so "today so far" is today's daily rows less the (empty) hours still to come.
 */
export function readingPlan(q: MeterRange & Pick<MeterQuery, 'groupBy' | 'filters'>, scope: VisibilityScope | null, now: Date): RollupPart[] {
  const from = q.from.getTime();
  const to = q.to.getTime();
  const hourRollup = hourRollupFor(q, scope);
  const dayRollup = dayRollupFor(q, scope);
  if (dayRollup === null) return [{ rollup: hourRollup, from: q.from, to: q.to, sign: 1 }];
  const horizon = endOfHour(now).getTime();
  const hoursToRead = (a: number, b: number): number => Math.max(0, Math.min(b, horizon) - a) / HOUR_MS;

  const hourly: RollupPart[] = [];
  let dayFrom = Infinity;
  let dayTo = -Infinity;
  const days = (a: number, b: number) => {
    dayFrom = Math.min(dayFrom, a);
    dayTo = Math.max(dayTo, b);
  };
  const hours = (a: number, b: number, sign: 1 | -1) => {
    if (a < b) hourly.push({ rollup: hourRollup, from: new Date(a), to: new Date(b), sign });
  };
  /** [a, b) lies within the UTC day starting at `day` and is not all of it. */
  const partial = (a: number, b: number, day: number) => {
    const end = day + DAY_MS;
    if (hoursToRead(day, a) + hoursToRead(b, end) < hoursToRead(a, b)) {
      days(day, end);
      hours(day, a, -1);
      hours(b, end, -1);
    } else {
      hours(a, b, 1);
    }
  };

  const firstWhole = floorDay(from) === from ? from : floorDay(from) + DAY_MS;
  const lastWhole = floorDay(to);
  if (firstWhole > lastWhole) {
    partial(from, to, lastWhole);
  } else {
    if (from < firstWhole) partial(from, firstWhole, firstWhole - DAY_MS);
    if (firstWhole < lastWhole) days(firstWhole, lastWhole);
    if (lastWhole < to) partial(lastWhole, to, lastWhole);
  }
  // The days taken are contiguous: the whole days and the partial days next to them. Two pieces of hours
  // that meet (an evening and the next morning) are one range.
  const daily: RollupPart[] = dayFrom < dayTo ? [{ rollup: dayRollup, from: new Date(dayFrom), to: new Date(dayTo), sign: 1 }] : [];
  const merged: RollupPart[] = [];
  for (const part of hourly) {
    const last = merged[merged.length - 1];
    if (last && last.sign === part.sign && last.to.getTime() === part.from.getTime()) merged[merged.length - 1] = { ...last, to: part.to };
    else merged.push(part);
  }
  return [...daily, ...merged];
}
