// Owns the one total order of a task's events that classification reads ("last event with an outcome",
// "first failed attempt"): time of the operation, then server ingest sequence, then event key.

export interface OrderedEvent {
  readonly event_key: string;
  /** RFC 3339. */
  readonly timestamp: string;
  readonly sequence: number;
}

/** Milliseconds since the epoch, NaN when unparseable (validation reports it; ordering still stays total). */
export function eventTime(event: Pick<OrderedEvent, 'timestamp'>): number {
  return Date.parse(event.timestamp);
}

// Offsets make RFC 3339 strings sort wrongly as text, so times compare as instants. An unparseable time sorts
// last instead of poisoning the comparator, so the order stays total and deterministic. Sub-millisecond
// digits are dropped by Date.parse; ties then fall to the ingest sequence.
export function compareEvents(a: OrderedEvent, b: OrderedEvent): number {
  const ta = orderTime(a);
  const tb = orderTime(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.sequence !== b.sequence) return a.sequence < b.sequence ? -1 : 1;
  if (a.event_key === b.event_key) return 0;
  return a.event_key < b.event_key ? -1 : 1; // code-unit order: locale-independent
}

function orderTime(event: OrderedEvent): number {
  const t = eventTime(event);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}
