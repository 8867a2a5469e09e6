// The console's lists: a table that scrolls sideways on a narrow screen (a focusable, named region, so a
// keyboard can scroll it too), a row that says when there is nothing to list, and keyset paging.
import { useCallback, useState, type ReactNode } from 'react';

export interface Column<T> {
  header: ReactNode;
  /** Right-aligned figures. */
  num?: boolean;
  /** The cell that names its row (`<th scope="row">`), for a screen reader reading across. */
  rowHeader?: boolean;
  cell: (row: T) => ReactNode;
}

interface DataTableProps<T> {
  /** The region's accessible name: a label, or the id of a heading that names it. */
  label?: string;
  labelledBy?: string;
  caption?: ReactNode;
  /** Extra classes of the scrolling region (it always has `table-scroll`). */
  regionClass?: string;
  tableClass?: string;
  testId?: string;
  columns: readonly Column<T>[];
  /** `null` while the rows are being read (the `loading` text shows, if given; otherwise nothing). */
  rows: readonly T[] | null;
  rowKey: (row: T) => string;
  /** Data attributes of a row (`data-*`), for what else needs to find it. */
  rowData?: (row: T) => Record<`data-${string}`, string>;
  empty: ReactNode;
  loading?: ReactNode;
}

export function DataTable<T>({ label, labelledBy, caption, regionClass, tableClass, testId, columns, rows, rowKey, rowData, empty, loading }: DataTableProps<T>) {
  const whole = (content: ReactNode, status = false) => (
    <tr>
      <td colSpan={columns.length} role={status ? 'status' : undefined}>
        {content}
      </td>
    </tr>
  );
  return (
    <div className={regionClass ? `${regionClass} table-scroll` : 'table-scroll'} tabIndex={0} role="region" aria-label={label} aria-labelledby={labelledBy}>
      <table className={tableClass} data-testid={testId}>
        {caption !== undefined ? <caption>{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col" className={c.num ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows === null
            ? loading !== undefined
              ? whole(loading, true)
              : null
            : rows.length === 0
              ? whole(empty)
              : rows.map((row) => (
                  <tr key={rowKey(row)} {...rowData?.(row)}>
                    {columns.map((c, i) =>
                      c.rowHeader ? (
                        <th key={i} scope="row" className={c.num ? 'num' : undefined}>
                          {c.cell(row)}
                        </th>
                      ) : (
                        <td key={i} className={c.num ? 'num' : undefined}>
                          {c.cell(row)}
                        </td>
                      ),
                    )}
                  </tr>
                ))}
        </tbody>
      </table>
    </div>
  );
}

/** Keyset paging, newest first: the cursors of the pages seen so far, so "newer" goes back without asking. */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const first = useCallback(() => setCursors([undefined]), []);
  return {
    /** The cursor of the page shown (`undefined`: the first). */
    cursor: cursors[cursors.length - 1],
    number: cursors.length,
    newer: cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null,
    older: (next: string) => setCursors([...cursors, next]),
    /** Back to the first page (after a filter changes, or a write that shows on it). */
    first,
  };
}

export function Pager({ label, pages, next }: { label: string; pages: ReturnType<typeof useCursorPages>; next: string | null | undefined }) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="secondary" disabled={pages.newer === null} onClick={() => pages.newer?.()}>
        ← Newer
      </button>
      <span>Page {pages.number}</span>
      <button type="button" className="secondary" disabled={!next} onClick={() => next && pages.older(next)}>
        Older →
      </button>
    </nav>
  );
}
