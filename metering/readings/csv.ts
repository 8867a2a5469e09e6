// RFC 4180 CSV: a header row, CRLF line ends, quotes only where needed. A text cell a spreadsheet would
// run as a formula (= + - @, tab, CR first) gets a leading single quote; plain numbers are left as they are.
import type { EventView } from './event-view.js';
import type { MeterReading } from './meter-sums.js';

export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) lines.push(row.map(csvCell).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** Whether an Accept header asks for CSV (any listed `text/csv`, parameters ignored). */
export function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    return type === 'text/csv' && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

// The two exports, flattened: nested token and cost fields become `tokens_<kind>` / `cost_<kind>` columns.

const TOKEN_KINDS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning', 'total'] as const;

export function meterCsv(reading: MeterReading): string {
  const header = [
    ...reading.group_by.map((d) => `key_${d}`),
    'calls',
    ...TOKEN_KINDS.map((k) => `tokens_${k}`),
    'cost',
    'unpriced_tokens',
    'effective_ratio',
  ];
  const rows = reading.rows.map((r) => [
    ...reading.group_by.map((d) => r.key[d] ?? null),
    r.calls,
    ...TOKEN_KINDS.map((k) => r.tokens[k]),
    r.cost,
    r.unpriced_tokens,
    r.effective_ratio,
  ]);
  return toCsv(header, rows);
}

const EVENT_TEXT_COLUMNS = [
  'id',
  'timestamp',
  'received_at',
  'person_id',
  'agent_id',
  'unit_id',
  'session_id',
  'session_context',
  'task_id',
  'attempt_id',
  'outcome',
  'error_signature',
  'operation',
  'channel',
  'model',
  'model_name',
  'tier',
  'priced',
] as const;

export function eventsCsv(events: readonly EventView[]): string {
  const header = [
    ...EVENT_TEXT_COLUMNS,
    ...TOKEN_KINDS.map((k) => `tokens_${k}`),
    ...TOKEN_KINDS.map((k) => `cost_${k}`),
    'label',
    'adjustment',
    'metadata',
  ];
  const rows = events.map((e) => [
    ...EVENT_TEXT_COLUMNS.map((c) => e[c]),
    ...TOKEN_KINDS.map((k) => e.tokens[k]),
    ...TOKEN_KINDS.map((k) => (e.cost === null ? null : e.cost[k])),
    e.label,
    e.adjustment,
    e.metadata === null ? null : JSON.stringify(e.metadata),
  ]);
  return toCsv(header, rows);
}
