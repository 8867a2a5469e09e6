import type { Schemas } from '../api';
import { costShown, ratio, tokens } from '../format';
import { DataTable } from './DataTable';

type Row = Schemas['MeterRow'];

/** One meter reading grouped by one dimension, as a table with a bar per row (share of tokens). */
export function Breakdown({ title, dim, rows, currency }: { title: string; dim: string; rows: Row[]; currency: string | null }) {
  const sorted = [...rows].sort((a, b) => b.tokens.total - a.tokens.total);
  const top = sorted[0]?.tokens.total ?? 0;
  return (
    <DataTable
      label={title}
      regionClass="breakdown"
      caption={title}
      rows={sorted}
      rowKey={(row) => String(row.key[dim])}
      empty="No usage in this range."
      columns={[
        {
          header: dim,
          rowHeader: true,
          cell: (row) => (
            <>
              {row.key[dim] ?? '(none)'}
              <span className="share" aria-hidden="true" style={{ width: `${top === 0 ? 0 : (row.tokens.total / top) * 100}%` }} />
            </>
          ),
        },
        { header: 'Operations', num: true, cell: (row) => tokens(row.calls) },
        { header: 'Tokens', num: true, cell: (row) => tokens(row.tokens.total) },
        {
          header: 'Cost',
          num: true,
          cell: (row) => {
            const shown = costShown(row, currency);
            return shown.unpriced === null ? shown.cost : (
              <>
                {shown.cost}
                <span className="sub unpriced">{shown.unpriced}</span>
              </>
            );
          },
        },
        { header: 'Effective', num: true, cell: (row) => ratio(row.effective_ratio) },
      ]}
    />
  );
}
