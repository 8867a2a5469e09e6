// An invoice as people read it: the usage behind each line, the CSV export and the printable HTML page.
// Pure functions of the invoice's view (no Nest, no I/O).
import { toCsv } from '../../metering/readings/csv.js';
import type { LineDraft, UsageRow } from './invoice-math.js';

/**
 * The usage a line covers, by tier, model and label: a period line covers its period's usage (an overage
 * line its tier's, the ineffective-spend credit the ineffective usage); an adjustment the usage of the
 * period it adjusts that this invoice bills; the base fee, top-ups and credits applied none.
 */
export function usageBehind(line: Pick<LineDraft, 'kind' | 'charge' | 'tier' | 'period_start'>, usage: readonly UsageRow[]): UsageRow[] {
  // Credits applied pay for part of the usage beyond the allowance, which no model or label can be singled out as.
  if (line.charge === null || line.charge === 'credits_applied') return [];
  return usage.filter(
    (u) =>
      u.period_start === line.period_start &&
      (line.tier === null || u.tier === line.tier) &&
      (line.charge !== 'ineffective_credit' || u.label === 'ineffective'),
  );
}

interface ViewLine {
  n: number;
  kind: string;
  period_start: string;
  description: string;
  amount: string;
}

interface ViewInvoice {
  id: string;
  number: string;
  account: string;
  status: string;
  currency: string;
  period_start: string;
  period_end: string;
  total: string;
  finalized_at: string | null;
  lines: readonly ViewLine[];
  usage: readonly UsageRow[];
}

/** One row per line, then the usage billed by tier, model and label. */
export function invoiceCsv(invoice: ViewInvoice): string {
  const header = ['invoice', 'number', 'record', 'n', 'kind', 'period_start', 'description', 'tier', 'model', 'label', 'calls', 'tokens', 'amount', 'currency'];
  const rows = [
    ...invoice.lines.map((l) => [invoice.id, invoice.number, 'line', l.n, l.kind, l.period_start, l.description, null, null, null, null, null, l.amount, invoice.currency]),
    ...invoice.usage.map((u) => [invoice.id, invoice.number, 'usage', null, null, u.period_start, null, u.tier, u.model, u.label, u.calls, u.tokens, u.cost, invoice.currency]),
    [invoice.id, invoice.number, 'total', null, null, invoice.period_start, 'Total', null, null, null, null, null, invoice.total, invoice.currency],
  ];
  return toCsv(header, rows);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(value: string | number | null): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
const day = (s: string) => s.slice(0, 10);

/** A self-contained page a person can print or send to accounts payable. */
export function invoiceHtml(invoice: ViewInvoice, accountName: string): string {
  const lines = invoice.lines
    .map((l) => `<tr><td>${esc(l.description)}</td><td class="n">${esc(l.amount)}</td></tr>`)
    .join('\n');
  const usage = invoice.usage
    .map((u) => `<tr><td>${esc(day(u.period_start))}</td><td>${esc(u.tier || '-')}</td><td>${esc(u.model || '-')}</td><td>${esc(u.label)}</td><td class="n">${esc(u.calls)}</td><td class="n">${esc(u.tokens)}</td><td class="n">${esc(u.cost)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Invoice ${esc(invoice.number)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;max-width:52rem;margin:2rem auto;color:#111}
table{border-collapse:collapse;width:100%;margin:1rem 0}td,th{padding:.3rem .5rem;border-bottom:1px solid #ddd;text-align:left}
.n{text-align:right;font-variant-numeric:tabular-nums}tfoot td{font-weight:bold;border-top:2px solid #111}
.muted{color:#666}@media print{body{margin:0}}
</style></head><body>
<h1>Invoice ${esc(invoice.number)}</h1>
<p><strong>${esc(accountName)}</strong> (${esc(invoice.account)})<br>
Period ${esc(day(invoice.period_start))} to ${esc(day(invoice.period_end))} (end exclusive)<br>
Status: ${esc(invoice.status)}${invoice.finalized_at ? `, finalized ${esc(day(invoice.finalized_at))}` : ''}<br>
<span class="muted">Invoice id ${esc(invoice.id)}</span></p>
<table><thead><tr><th>Description</th><th class="n">Amount (${esc(invoice.currency)})</th></tr></thead>
<tbody>
${lines}
</tbody>
<tfoot><tr><td>Total</td><td class="n">${esc(invoice.total)} ${esc(invoice.currency)}</td></tr></tfoot></table>
<h2>Usage billed</h2>
<table><thead><tr><th>Period</th><th>Tier</th><th>Model</th><th>Label</th><th class="n">Calls</th><th class="n">Tokens</th><th class="n">Cost (exact)</th></tr></thead>
<tbody>
${usage}
</tbody></table>
</body></html>
`;
}
