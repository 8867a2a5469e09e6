import type { Schemas } from '../api';
import { money, ratio, tokens } from '../format';

type Row = Schemas['MeterRow'];

/** One meter reading grouped by one dimension, as a table with a bar per row (share of tokens). */
export function Breakdown({ title, dim, rows, currency }: { title: string; dim: string; rows: Row[]; currency: string | null }) {
  const sorted = [...rows].sort((a, b) => b.tokens.total - a.tokens.total);
  const top = sorted[0]?.tokens.total ?? 0;
  return (
    <div className="breakdown table-scroll" tabIndex={0} role="region" aria-label={title}>
      <table>
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{dim}</th>
            <th scope="col" className="num">
              Operations
            </th>
            <th scope="col" className="num">
              Tokens
            </th>
            <th scope="col" className="num">
              Cost
            </th>
            <th scope="col" className="num">
              Effective
            </th>
          </tr>
        </thead>
        <tbody>
          {sorted.length === 0 ? (
            <tr>
              <td colSpan={5}>No usage in this range.</td>
            </tr>
          ) : (
            sorted.map((row) => (
              <tr key={String(row.key[dim])}>
                <th scope="row">
                  {row.key[dim] ?? '(none)'}
                  <span className="share" aria-hidden="true" style={{ width: `${top === 0 ? 0 : (row.tokens.total / top) * 100}%` }} />
                </th>
                <td className="num">{tokens(row.calls)}</td>
                <td className="num">{tokens(row.tokens.total)}</td>
                <td className="num">{money(row.cost, currency)}</td>
                <td className="num">{ratio(row.effective_ratio)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
