// Usage over time: tokens (or cost) by day, stacked by tier or by label, the effective ratio over the
// range, and the same range broken down by model, operation and channel. All are meter readings.
import { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { json, ok, type Schemas, whileCurrent } from '../api';
import type { Session } from '../App';
import { Breakdown } from '../components/Breakdown';
import { CostFigure } from '../components/CostFigure';
import { day, ratio, tokens, tokensShort } from '../format';
import { cellCost, chartRows, costTick, seriesOf, type ChartRow } from '../usage-chart';

type Reading = Schemas['MeterReading'];
const RANGES = { month: 'This month', d7: 'Last 7 days', d30: 'Last 30 days', d90: 'Last 90 days' } as const;
type Range = keyof typeof RANGES;

export function rangeFrom(range: Range, now: Date): string {
  if (range === 'month') return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
  const days = range === 'd7' ? 7 : range === 'd30' ? 30 : 90;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - days + 1)).toISOString();
}

export function UsagePage({ session, account }: { session: Session; account: string }) {
  const { client } = session;
  const [range, setRange] = useState<Range>('month');
  const [stack, setStack] = useState<'tier' | 'label'>('tier');
  const [measure, setMeasure] = useState<'tokens' | 'cost'>('tokens');
  const [readings, setReadings] = useState<Record<string, Reading>>({});
  const [currency, setCurrency] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => whileCurrent(ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } })), (a) => setCurrency(a.currency)), [client, account]);

  useEffect(() => {
    const from = rangeFrom(range, new Date());
    const groups = ['day,tier', 'day,label', 'model', 'operation', 'channel'];
    return whileCurrent(
      Promise.all(groups.map((group_by) => ok(client.GET('/v1/accounts/{account}/meter', { params: { path: { account }, query: { from, group_by } } })))),
      (all) => {
        setReadings(Object.fromEntries(groups.map((g, i) => [g, json(all[i]!)])));
        setError(null);
      },
      (e) => setError((e as Error).message),
    );
  }, [client, account, range]);

  const byDay = readings[`day,${stack}`];
  const chart = useMemo(() => chartRows(byDay, stack, measure), [byDay, stack, measure]);
  const series = useMemo(() => seriesOf(stack, byDay), [stack, byDay]);
  const totals = readings['model']?.totals;

  return (
    <section className="usage-page">
      <form className="controls" onSubmit={(e) => e.preventDefault()}>
        <label>
          Range
          <select value={range} onChange={(e) => setRange(e.target.value as Range)}>
            {Object.entries(RANGES).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Stack by</legend>
          {(['tier', 'label'] as const).map((s) => (
            <label key={s} className="inline">
              <input type="radio" name="stack" value={s} checked={stack === s} onChange={() => setStack(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Show</legend>
          {(['tokens', 'cost'] as const).map((m) => (
            <label key={m} className="inline">
              <input type="radio" name="measure" value={m} checked={measure === m} onChange={() => setMeasure(m)} /> {m}
            </label>
          ))}
        </fieldset>
      </form>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="cards">
        <div className="card">
          <h2>Effective ratio</h2>
          <p className="value big" data-testid="effective-ratio">
            {ratio(totals?.effective_ratio)}
          </p>
          <p className="sub">effective tokens ÷ (effective + ineffective); pending and unclassified tokens are left out</p>
        </div>
        <div className="card">
          <h2>Tokens</h2>
          <p className="value big">{tokens(totals?.tokens.total ?? 0)}</p>
          <p className="sub">{tokens(totals?.calls ?? 0)} operations</p>
        </div>
        <div className="card">
          <h2>Cost</h2>
          <CostFigure sums={totals} currency={currency} testId="usage" />
        </div>
      </div>
      <figure className="chart">
        <figcaption>
          {measure === 'tokens' ? 'Tokens' : `Cost${currency ? ` (${currency})` : ''}`} by day, by {stack}
        </figcaption>
        <div className="chart-box" aria-hidden="true">
          <ResponsiveContainer width="100%" height={280}>
            {/* No accessibility layer: the chart is hidden from assistive technology (the table below says the same), so it must not be a tab stop either. */}
            <BarChart data={chart} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} accessibilityLayer={false}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="day" tickFormatter={(d: string) => day(d)} fontSize={12} />
              <YAxis tickFormatter={(v: number) => (measure === 'tokens' ? tokensShort(v) : costTick(v))} fontSize={12} width={48} />
              <Tooltip
                labelFormatter={(d) => day(String(d))}
                formatter={(value, _name, item) => (measure === 'tokens' ? tokens(Number(value)) : cellCost(item.payload as ChartRow, String(item.dataKey), currency))}
              />
              <Legend />
              {series.map(([key, color, name]) => (
                <Bar key={key} dataKey={key} name={name} stackId="s" fill={color} isAnimationActive={false} />
              ))}
            </BarChart>
          </ResponsiveContainer>
        </div>
        <details>
          <summary>The chart as a table</summary>
          <table>
            <thead>
              <tr>
                <th scope="col">Day</th>
                {series.map(([key, , name]) => (
                  <th scope="col" className="num" key={key}>
                    {name}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {chart.map((row) => (
                <tr key={String(row.day)}>
                  <th scope="row">{day(String(row.day))}</th>
                  {series.map(([key]) => (
                    <td className="num" key={key}>
                      {measure === 'tokens' ? tokens(Number(row[key] ?? 0)) : cellCost(row, key)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </figure>
      <div className="breakdowns">
        <Breakdown title="By model" dim="model" rows={readings['model']?.rows ?? []} currency={currency} />
        <Breakdown title="By operation" dim="operation" rows={readings['operation']?.rows ?? []} currency={currency} />
        <Breakdown title="By channel" dim="channel" rows={readings['channel']?.rows ?? []} currency={currency} />
      </div>
    </section>
  );
}
