// Owns strict RFC 3339 timestamp parsing into epoch nanoseconds (BigInt), so price-book selection
// compares instants exactly, across offsets and sub-millisecond digits, without Date.parse leniency.
import { PricingInputError } from './pricing-input-error.js';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

export function isCalendarDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil); avoids Date.UTC,
// which maps years 0..99 to 1900..1999.
function daysFromCivil(year: number, month: number, day: number): bigint {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return BigInt(era * 146097 + doe - 719468);
}

/** Epoch nanoseconds of an RFC 3339 date-time with an explicit offset (`Z` or `±hh:mm`). */
export function parseInstant(raw: unknown, field: string): bigint {
  const m = typeof raw === 'string' ? RFC3339.exec(raw) : null;
  if (m === null) {
    throw new PricingInputError(
      'INVALID_TIMESTAMP',
      field,
      `${field} must be an RFC 3339 date-time with offset, e.g. "2025-01-01T00:00:00Z"`,
    );
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const offHours = m[9] === undefined ? 0 : Number(m[9]);
  const offMinutes = m[10] === undefined ? 0 : Number(m[10]);
  // Leap second 60 is refused rather than guessed at: no price book needs to start inside one.
  if (!isCalendarDate(year, month, day) || hour > 23 || minute > 59 || second > 59 || offHours > 23 || offMinutes > 59) {
    throw new PricingInputError('INVALID_TIMESTAMP', field, `${field} is not a real date-time`);
  }
  const nanos = BigInt((m[7] ?? '').padEnd(9, '0'));
  const offsetSeconds = (m[8] === '-' ? -1 : 1) * (offHours * 3600 + offMinutes * 60);
  const seconds = daysFromCivil(year, month, day) * 86_400n + BigInt(hour * 3600 + minute * 60 + second - offsetSeconds);
  return seconds * 1_000_000_000n + nanos;
}
