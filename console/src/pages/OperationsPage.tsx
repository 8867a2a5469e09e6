// The per-operation list, newest first: filters as the API takes them, keyset paging (next, back to the
// previous pages by the cursors already seen), and every page of the filters' operations as one CSV file.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { csvFilePages } from '../../../client/csv-pages';
import { json, ok, type EventsQuery, type Schemas, whileCurrent } from '../api';
import { csvFileName } from '../operations-csv';
import type { Session } from '../App';
import { DataTable, Pager, useCursorPages } from '../components/DataTable';
import { dateTime, money, tokens } from '../format';

const LABELS = ['effective', 'ineffective', 'pending', 'unclassified'] as const;
const CHANNELS = ['cli', 'mcp', 'chat', 'api', 'program'] as const;
const PAGE_SIZE = 25;
/** Operations per request of the CSV download: the most the API gives in one page. */
const CSV_PAGE_SIZE = 1000;

interface Filters {
  from: string;
  to: string;
  model: string;
  operation: string;
  task: string;
  session: string;
  label: string;
  channel: string;
}
const EMPTY: Filters = { from: '', to: '', model: '', operation: '', task: '', session: '', label: '', channel: '' };

/** The filters as query parameters: empty ones left out, dates as RFC 3339 (UTC). */
function toQuery(f: Filters): EventsQuery {
  const time = (v: string) => (v === '' ? undefined : new Date(`${v}Z`).toISOString());
  const text = (v: string) => (v === '' ? undefined : v);
  return {
    from: time(f.from),
    to: time(f.to),
    model: text(f.model),
    operation: text(f.operation),
    task: text(f.task),
    session: text(f.session),
    label: (text(f.label) as EventsQuery['label']) ?? undefined,
    channel: (text(f.channel) as EventsQuery['channel']) ?? undefined,
  };
}

export function OperationsPage({ session, account }: { session: Session; account: string }) {
  const { client } = session;
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const pages = useCursorPages();
  const [page, setPage] = useState<Schemas['EventPage'] | null>(null);
  const [currency, setCurrency] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { cursor } = pages;
  // The CSV download: pages fetched so far (null when none runs), and whether Cancel was pressed.
  const [downloading, setDownloading] = useState<number | null>(null);
  const [downloadNote, setDownloadNote] = useState<{ error: boolean; text: string } | null>(null);
  const cancelled = useRef(false);

  useEffect(() => whileCurrent(ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } })), (a) => setCurrency(a.currency)), [client, account]);

  useEffect(() => {
    const query = { ...toQuery(filters), limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) };
    return whileCurrent(
      ok(client.GET('/v1/accounts/{account}/events', { params: { path: { account }, query } })),
      (p) => {
        setPage(json(p));
        setError(null);
      },
      (e) => {
        // The rows of the filters before are not these filters' answer: none is shown under the refusal.
        setPage(null);
        setError((e as Error).message);
      },
    );
  }, [client, account, filters, cursor]);

  /** Every page of the applied filters' operations as the API writes them in CSV, saved as one file. */
  const downloadCsv = async () => {
    cancelled.current = false;
    setDownloadNote(null);
    setDownloading(0);
    const query = { ...toQuery(filters), limit: String(CSV_PAGE_SIZE), format: 'csv' as const };
    const fetchPage = async (cursor: string | undefined) => {
      const params = { path: { account }, query: { ...query, ...(cursor ? { cursor } : {}) } };
      const answer = client.GET('/v1/accounts/{account}/events', { params, parseAs: 'text' });
      return { csv: await ok(answer), next: (await answer).response.headers.get('x-next-cursor') };
    };
    const parts: string[] = [];
    try {
      for await (const page of csvFilePages(fetchPage, { all: true })) {
        parts.push(page.text);
        setDownloading(parts.length);
        if (cancelled.current) {
          setDownloadNote({ error: false, text: `Cancelled after ${parts.length} ${parts.length === 1 ? 'page' : 'pages'}: nothing saved.` });
          return;
        }
      }
      const url = URL.createObjectURL(new Blob(parts, { type: 'text/csv' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = csvFileName(account, filters);
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 0);
      setDownloadNote({ error: false, text: `Saved ${link.download} (${parts.length} ${parts.length === 1 ? 'page' : 'pages'} of up to ${CSV_PAGE_SIZE} operations).` });
    } catch (e) {
      setDownloadNote({ error: true, text: (e as Error).message });
    } finally {
      setDownloading(null);
    }
  };

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
    pages.first();
  };
  const field = (name: keyof Filters, label: string, type = 'text') => (
    <label>
      {label}
      <input type={type} name={name} value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} />
    </label>
  );

  return (
    <section>
      <form className="filters" onSubmit={apply} aria-label="Filter operations">
        {field('from', 'From (UTC)', 'datetime-local')}
        {field('to', 'To (UTC)', 'datetime-local')}
        {field('model', 'Model')}
        {field('operation', 'Operation')}
        {field('task', 'Task')}
        {field('session', 'Session')}
        <label>
          Label
          <select value={draft.label} onChange={(e) => setDraft({ ...draft, label: e.target.value })}>
            <option value="">any</option>
            {LABELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Channel
          <select value={draft.channel} onChange={(e) => setDraft({ ...draft, channel: e.target.value })}>
            <option value="">any</option>
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <div className="actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              pages.first();
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error ? (
        <p className="error" role="alert" data-testid="operations-error">
          {error}
        </p>
      ) : (
        <>
          <DataTable
            label="Operations"
            tableClass="operations"
            testId="operations"
            rows={page?.data ?? null}
            rowKey={(e) => e.id}
            empty="No operations match."
            columns={[
              { header: 'Time', cell: (e) => <time dateTime={e.timestamp}>{dateTime(e.timestamp)}</time> },
              { header: 'Operation', cell: (e) => e.operation ?? '—' },
              { header: 'Model', cell: (e) => e.model ?? '—' },
              { header: 'Tier', cell: (e) => e.tier ?? '—' },
              { header: 'Channel', cell: (e) => e.channel ?? '—' },
              { header: 'Tokens', num: true, cell: (e) => tokens(e.tokens.total) },
              { header: 'Cost', num: true, cell: (e) => (e.cost ? money(e.cost.total, currency) : 'unpriced') },
              { header: 'Label', cell: (e) => <span className={`tag ${e.label}`}>{e.label}</span> },
              { header: 'Task', cell: (e) => e.task_id ?? '—' },
            ]}
          />
          <Pager label="Pages of operations" pages={pages} next={page?.next_cursor} />
          <div className="actions">
            {downloading === null ? (
              <button type="button" className="secondary" onClick={() => void downloadCsv()} disabled={!page || page.data.length === 0}>
                Download CSV (every page of these filters)
              </button>
            ) : (
              <>
                <span role="status" data-testid="csv-progress">
                  Fetching page {downloading + 1}…
                </span>
                <button type="button" className="secondary" onClick={() => (cancelled.current = true)}>
                  Cancel
                </button>
              </>
            )}
            {downloadNote ? (
              <p role={downloadNote.error ? 'alert' : 'status'} className={downloadNote.error ? 'error' : undefined} data-testid="csv-note">
                {downloadNote.text}
              </p>
            ) : null}
          </div>
        </>
      )}
    </section>
  );
}
