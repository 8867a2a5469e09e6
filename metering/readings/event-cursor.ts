// The listing's keyset cursor: the last row's (ts, event_id), opaque to clients (base64url JSON). The
// time travels as whole microseconds since the epoch so no precision PostgreSQL keeps is lost.
import { MeteringError, MeteringErrorCode } from '../metering.errors.js';

export interface EventCursor {
  /** Microseconds since 1970-01-01T00:00:00Z, as a decimal integer string. */
  tsMicros: string;
  eventId: string;
}

const MAX_CURSOR_LENGTH = 1024;

export function encodeCursor(c: EventCursor): string {
  return Buffer.from(JSON.stringify({ t: c.tsMicros, i: c.eventId }), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string): EventCursor {
  const bad = () => new MeteringError(MeteringErrorCode.InvalidCursor, 'The cursor is not one this listing gave out.', { field: 'cursor' });
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (parsed === null || typeof parsed !== 'object') throw bad();
  const { t, i } = parsed as { t?: unknown; i?: unknown };
  if (typeof t !== 'string' || !/^-?\d{1,18}$/.test(t) || typeof i !== 'string' || i.length === 0 || i.length > 255 || i.includes('\u0000')) {
    throw bad();
  }
  return { tsMicros: t, eventId: i };
}
