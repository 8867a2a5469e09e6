// Finance: the account's invoices (period, state, total), one invoice with its lines and the usage behind
// each line, its printable page and CSV, and the upcoming invoice as it would be if the period closed now.
// Whether the key may read them is the API's to say: a refusal is shown as the service worded it.
import { useEffect, useRef, useState } from 'react';
import { json, ok, type Schemas, type TokenmeterClient, whileCurrent } from '../api';
import type { Session } from '../App';
import { DataTable, Pager, useCursorPages } from '../components/DataTable';
import { Refusal } from '../components/Refusal';
import { dateTime, dayText, money, periodText, tokens } from '../format';
import { pageHref, useHashParam } from '../hash-params';

type Summary = Schemas['InvoiceSummary'];
type Line = Schemas['InvoiceLine'];

const KIND: Record<Line['kind'], string> = {
  base_fee: 'Base fee',
  allowance_used: 'Allowance used',
  overage: 'Overage',
  topup: 'Top-up',
  volume_discount: 'Volume discount',
  credits_applied: 'Credits applied',
  ineffective_credit: 'Ineffective-spend credit',
  adjustment: 'Adjustment',
};

export function InvoicesPage({ session, account }: { session: Session; account: string }) {
  const selected = useHashParam('invoice');
  return selected ? <InvoiceDetail client={session.client} id={selected} /> : <InvoiceList client={session.client} account={account} />;
}

function InvoiceList({ client, account }: { client: TokenmeterClient; account: string }) {
  const pages = useCursorPages();
  const [page, setPage] = useState<Schemas['InvoiceList'] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const before = pages.cursor;

  useEffect(
    () =>
      whileCurrent(
        ok(client.GET('/v1/accounts/{account}/invoices', { params: { path: { account }, query: { limit: 12, ...(before ? { before } : {}) } } })),
        (list) => {
          setPage(list);
          setFailure(null);
        },
        setFailure,
      ),
    [client, account, before],
  );

  if (failure) return <Refusal failure={failure} what="invoices" />;
  return (
    <section aria-labelledby="invoices-heading">
      <h2 id="invoices-heading">Invoices</h2>
      <p className="sub">One invoice per billing period, newest first. A draft is finalized after its grace period and never changes after.</p>
      <DataTable
        label="Invoices"
        testId="invoices"
        rows={page?.data ?? null}
        rowKey={(inv: Summary) => inv.id}
        loading="Reading the invoices…"
        empty="No invoices yet: the first one is made when a billing period ends."
        columns={[
          {
            header: 'Invoice',
            rowHeader: true,
            cell: (inv) => (
              <a href={pageHref('invoices', { invoice: inv.id })} aria-label={`Invoice ${inv.number}, ${periodText(inv.period_start, inv.period_end)}`}>
                {inv.number}
              </a>
            ),
          },
          { header: 'Period', cell: (inv) => periodText(inv.period_start, inv.period_end) },
          { header: 'State', cell: (inv) => <span className={`state ${inv.status}`}>{inv.status}</span> },
          { header: 'Total', num: true, cell: (inv) => money(inv.total, null, 3) },
          { header: 'Currency', cell: (inv) => inv.currency },
        ]}
      />
      <Pager label="Pages of invoices" pages={pages} next={page?.next_before} />
      <Upcoming client={client} account={account} />
    </section>
  );
}

/** The open period's invoice as it would be if closed now (nothing is written). */
function Upcoming({ client, account }: { client: TokenmeterClient; account: string }) {
  const [preview, setPreview] = useState<Schemas['InvoicePreview'] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  useEffect(() => whileCurrent(ok(client.GET('/v1/accounts/{account}/invoices/upcoming', { params: { path: { account } } })), setPreview, setFailure), [client, account]);
  return (
    <section aria-labelledby="upcoming-heading" className="detail" data-testid="upcoming">
      <h2 id="upcoming-heading">Upcoming invoice</h2>
      {failure ? <Refusal failure={failure} what="the upcoming invoice" /> : null}
      {preview ? (
        <>
          <p className="sub">
            {periodText(preview.period_start, preview.period_end)}, as of {dateTime(preview.as_of)}: what the invoice would be if the period closed now.
          </p>
          <Lines lines={preview.lines} periodStart={preview.period_start} total={preview.total} currency={preview.currency} caption="Lines of the upcoming invoice" />
        </>
      ) : failure ? null : (
        <p role="status">Reading the upcoming invoice…</p>
      )}
    </section>
  );
}

/** A text representation of the invoice the API serves (printable HTML, CSV), as a link the browser can open. */
function useDocumentLink(client: TokenmeterClient, id: string, format: 'html' | 'csv'): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    // The route needs the key in a header, which a plain link cannot send: read it here and link to the copy.
    const stop = whileCurrent(ok(client.GET('/v1/invoices/{id}', { params: { path: { id }, query: { format } }, parseAs: 'text' })), (text) => {
      made = URL.createObjectURL(new Blob([text], { type: format === 'html' ? 'text/html;charset=utf-8' : 'text/csv;charset=utf-8' }));
      setUrl(made);
    });
    return () => {
      stop();
      if (made) URL.revokeObjectURL(made);
    };
  }, [client, id, format]);
  return url;
}

function InvoiceDetail({ client, id }: { client: TokenmeterClient; id: string }) {
  const [invoice, setInvoice] = useState<Schemas['Invoice'] | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const printable = useDocumentLink(client, id, 'html');
  const csv = useDocumentLink(client, id, 'csv');

  useEffect(() => whileCurrent(ok(client.GET('/v1/invoices/{id}', { params: { path: { id } } })), (answer) => setInvoice(json(answer)), setFailure), [client, id]);
  // Opening an invoice moves focus to it, as a page change does.
  useEffect(() => {
    if (invoice) heading.current?.focus();
  }, [invoice]);

  const back = (
    <p>
      <a href={pageHref('invoices')}>← All invoices</a>
    </p>
  );
  if (failure) {
    return (
      <>
        {back}
        <Refusal failure={failure} what="this invoice" />
      </>
    );
  }
  if (invoice === null) return <p role="status">Reading the invoice…</p>;
  return (
    <section className="detail" aria-labelledby="invoice-heading" data-testid="invoice">
      {back}
      <h2 id="invoice-heading" ref={heading} tabIndex={-1}>
        Invoice {invoice.number}
      </h2>
      <dl className="facts">
        <dt>Period</dt>
        <dd>{periodText(invoice.period_start, invoice.period_end)}</dd>
        <dt>State</dt>
        <dd>
          <span className={`state ${invoice.status}`} data-testid="invoice-state">
            {invoice.status}
          </span>
          {invoice.status === 'draft' ? ` until ${dateTime(invoice.grace_until)}` : ''}
          {invoice.finalized_at ? `; finalized ${dateTime(invoice.finalized_at)}` : ''}
          {invoice.paid_at ? `; paid ${dateTime(invoice.paid_at)}` : ''}
          {invoice.voided_at ? `; void ${dateTime(invoice.voided_at)}${invoice.void_reason ? ` (${invoice.void_reason})` : ''}` : ''}
        </dd>
        <dt>Plan</dt>
        <dd>
          {invoice.plan_id} v{invoice.plan_version}
        </dd>
        <dt>Total</dt>
        <dd data-testid="invoice-total">{money(invoice.total, invoice.currency, 3)}</dd>
      </dl>
      <div className="actions-row">
        {printable ? (
          <a href={printable} target="_blank" rel="noopener">
            Printable view (opens a new tab)
          </a>
        ) : (
          <span role="status">Preparing the printable view…</span>
        )}
        {csv ? (
          <a href={csv} download={`invoice-${invoice.number}.csv`}>
            Download CSV
          </a>
        ) : null}
      </div>
      <Lines lines={invoice.lines} periodStart={invoice.period_start} total={invoice.total} currency={invoice.currency} caption={`Lines of invoice ${invoice.number}`} />
    </section>
  );
}

/**
 * An invoice's lines with their amounts and, under each, the usage it covers by tier, model and label. A line's
 * period is the invoice's own ("this period") or, for a late event's adjustment, the earlier one it belongs to
 * (it showed a bare first day, 1 Nov 2026, which read as the day of the charge).
 */
function Lines({ lines, periodStart, total, currency, caption }: { lines: Line[]; periodStart: string; total: string; currency: string; caption: string }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={caption}>
      <table data-testid="invoice-lines">
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Line</th>
            <th scope="col">Period</th>
            <th scope="col" className="num">
              Amount
            </th>
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => (
            <tr key={line.n}>
              {/* The API's `n` is the line's position from 0; a document numbers its lines from 1. */}
              <td>{line.n + 1}</td>
              <th scope="row">
                <span className="sub block">{KIND[line.kind]}</span>
                {line.description}
                {line.usage.length > 0 ? <LineUsage line={line} currency={currency} /> : null}
              </th>
              <td>{Date.parse(line.period_start) === Date.parse(periodStart) ? 'this period' : `the period from ${dayText(line.period_start)}`}</td>
              <td className="num">{money(line.amount, currency, 3)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row" colSpan={3}>
              Total
            </th>
            <td className="num">{money(total, currency, 3)}</td>
          </tr>
        </tfoot>
      </table>
    </div>
  );
}

function LineUsage({ line, currency }: { line: Line; currency: string }) {
  return (
    <details className="line-usage">
      <summary>
        Usage behind line {line.n + 1} ({line.usage.length} {line.usage.length === 1 ? 'row' : 'rows'})
      </summary>
      <table>
        <caption className="sr-only">Usage behind line {line.n + 1}</caption>
        <thead>
          <tr>
            <th scope="col">Tier</th>
            <th scope="col">Model</th>
            <th scope="col">Label</th>
            <th scope="col" className="num">
              Calls
            </th>
            <th scope="col" className="num">
              Tokens
            </th>
            <th scope="col" className="num">
              Cost
            </th>
          </tr>
        </thead>
        <tbody>
          {line.usage.map((u) => (
            <tr key={`${u.tier}|${u.model}|${u.label}`}>
              <td>{u.tier || '—'}</td>
              <td>{u.model}</td>
              <td>
                <span className={`tag ${u.label}`}>{u.label}</span>
              </td>
              <td className="num">{tokens(u.calls)}</td>
              <td className="num">{tokens(u.tokens)}</td>
              <td className="num">{money(u.cost, currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
