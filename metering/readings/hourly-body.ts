// The answer of an hourly reading put together from two pieces: hours remembered from an earlier reading
// (their rows already as JSON, their totals' parts) and the hours read now. The text is byte for byte what
// JSON.stringify of the whole reading gives (the law in hourly-body.spec.ts), so answering from a
// remembered piece can never change an answer, only how much work it takes.
import type { JsonOf } from '../../src/http/openapi.js';
import { addCosts, addTokens, effectiveRatio, readingRows, toCount, type KeyedSumRow, type MeterReading, type MeterSums } from './meter-sums.js';

/** Some consecutive hours of a reading: their rows as JSON and what their totals are made of. */
export interface HourlyPiece {
  /** The rows' JSON texts joined by commas, without the brackets (empty for no row). */
  rowsJson: Buffer;
  totals: MeterSums;
  /** The effective and ineffective tokens of the totals (the ratio of a sum of pieces needs them). */
  labels: { effective: number; ineffective: number };
}

/** The piece of a reading by hour that `rows` (the meter's SQL rows, `k_hour` and `sums`) make. */
export function hourlyPiece(rows: readonly KeyedSumRow[]): HourlyPiece {
  const read = readingRows(rows, ['hour']);
  return { rowsJson: Buffer.from(JSON.stringify(read.rows).slice(1, -1)), totals: read.totals, labels: read.labels };
}

/** The totals of two pieces together, as readingRows would total their rows at once. */
export function addTotals(a: HourlyPiece, b: HourlyPiece): MeterSums {
  return {
    calls: toCount(a.totals.calls + b.totals.calls),
    tokens: addTokens(a.totals.tokens, b.totals.tokens),
    cost: addCosts(a.totals.cost, b.totals.cost),
    unpriced_tokens: toCount(a.totals.unpriced_tokens + b.totals.unpriced_tokens),
    effective_ratio: effectiveRatio(toCount(a.labels.effective + b.labels.effective), toCount(a.labels.ineffective + b.labels.ineffective)),
  };
}

/**
 * The JSON of the reading by hour over [from, to) whose earlier hours are `closed` and later ones `fresh`
 * (every row of `closed` before every row of `fresh`): `{ from, to, group_by: ['hour'], rows, totals }`.
 */
export function hourlyBody(from: string, to: string, closed: HourlyPiece, fresh: HourlyPiece): JsonOf<MeterReading> {
  const head = `{"from":${JSON.stringify(from)},"to":${JSON.stringify(to)},"group_by":["hour"],"rows":[`;
  const tail = `],"totals":${JSON.stringify(addTotals(closed, fresh))}}`;
  const comma = closed.rowsJson.length > 0 && fresh.rowsJson.length > 0 ? ',' : '';
  return Buffer.concat([Buffer.from(head), closed.rowsJson, Buffer.from(comma), fresh.rowsJson, Buffer.from(tail)]) as JsonOf<MeterReading>;
}
