// How data leaves the CLI: a table for people (aligned columns, numbers to the right), CSV (RFC 4180) and
// JSON for scripts. Plain padded columns rather than a box-drawing library: the output stays greppable
// and `cut`-able, and the few lines below have no options to learn.
export interface Column<T> {
  /** snake_case, as CSV shows it; a table shows it upper case with spaces. */
  header: string;
  value: (row: T) => unknown;
  /** How a table shows the value (CSV keeps it exact). */
  show?: (value: never) => string;
  /** Right-aligned (numbers, money). */
  right?: boolean;
}

export type Format = 'table' | 'json' | 'csv';

export function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const headers = columns.map((c) => c.header.toUpperCase().replace(/_/g, ' '));
  const cells = rows.map((row) =>
    columns.map((c) => {
      const value = c.value(row);
      return (c.show ? c.show(value as never) : cell(value)).replace(/\s+/g, ' ');
    }),
  );
  const widths = columns.map((_c, i) => Math.max(headers[i]!.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csv<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  return [columns.map((c) => csvField(c.header)), ...rows.map((row) => columns.map((c) => csvField(cell(c.value(row)))))]
    .map((fields) => fields.join(','))
    .join('\r\n');
}

/** The output format the options ask for (--json and --csv exclude each other). */
export function formatOf(options: { json?: boolean; csv?: boolean }): Format {
  return options.json ? 'json' : options.csv ? 'csv' : 'table';
}

/** `1234567` as `1,234,567`: token counts people read. */
export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '' : n.toLocaleString('en-US');
}

/** An effective ratio (0..1) as a percentage. */
export function percent(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '-' : `${(ratio * 100).toFixed(1)}%`;
}
