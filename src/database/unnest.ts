// Many rows in one statement: each column travels as one array parameter and `unnest` zips them back
// into rows. One round trip per batch whatever its size, and no SQL text that grows with it.
export interface UnnestColumn<R> {
  name: string;
  /** The PostgreSQL array type of the parameter, e.g. `text[]`, `timestamptz[]`, `numeric[]`. */
  type: string;
  value: (row: R) => unknown;
}

export function unnestParams<R>(columns: readonly UnnestColumn<R>[], rows: readonly R[], offset = 0): {
  select: string;
  names: string;
  params: unknown[];
} {
  const params = columns.map((c) => rows.map((r) => c.value(r)));
  const args = columns.map((c, i) => `$${offset + i + 1}::${c.type}`).join(', ');
  const names = columns.map((c) => c.name).join(', ');
  return { select: `SELECT * FROM unnest(${args}) AS t(${names})`, names, params };
}
