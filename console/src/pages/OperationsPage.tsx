// The per-operation list, newest first: filters as the API takes them, keyset paging (next, back to the
// previous pages by the cursors already seen), and the same page as CSV.
import { useEffect, useState, type FormEvent } from 'react';
import { json, ok, type EventsQuery, type Schemas } from '../api';
import type { Session } from '../App';
import { dateTime, money, tokens } from '../format';

const LABELS = ['effective', 'ineffective', 'pending', 'unclassified'] as const;
const CHANNELS = ['cli', 'mcp', 'chat', 'api', 'program'] as const;
const PAGE_SIZE = 25;

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
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Schemas['EventPage'] | null>(null);
  const [currency, setCurrency] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } }))
      .then((a) => setCurrency(a.currency))
      .catch(() => undefined);
  }, [client, account]);

  useEffect(() => {
    const query = { ...toQuery(filters), limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) };
    ok(client.GET('/v1/accounts/{account}/events', { params: { path: { account }, query } }))
      .then((p) => {
        setPage(json(p));
        setError(null);
      })
      .catch((e: Error) => setError(e.message));
  }, [client, account, filters, cursor]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
    setCursors([undefined]);
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
              setCursors([undefined]);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Operations">
        <table className="operations" data-testid="operations">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Operation</th>
              <th scope="col">Model</th>
              <th scope="col">Tier</th>
              <th scope="col">Channel</th>
              <th scope="col" className="num">
                Tokens
              </th>
              <th scope="col" className="num">
                Cost
              </th>
              <th scope="col">Label</th>
              <th scope="col">Task</th>
            </tr>
          </thead>
          <tbody>
            {page?.data.length === 0 ? (
              <tr>
                <td colSpan={9}>No operations match.</td>
              </tr>
            ) : (
              page?.data.map((e) => (
                <tr key={e.id}>
                  <td>
                    <time dateTime={e.timestamp}>{dateTime(e.timestamp)}</time>
                  </td>
                  <td>{e.operation ?? '—'}</td>
                  <td>{e.model ?? '—'}</td>
                  <td>{e.tier ?? '—'}</td>
                  <td>{e.channel ?? '—'}</td>
                  <td className="num">{tokens(e.tokens.total)}</td>
                  <td className="num">{e.cost ? money(e.cost.total, currency) : 'unpriced'}</td>
                  <td>
                    <span className={`tag ${e.label}`}>{e.label}</span>
                  </td>
                  <td>{e.task_id ?? '—'}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of operations">
        <button type="button" className="secondary" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span>Page {cursors.length}</span>
        <button
          type="button"
          className="secondary"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Older →
        </button>
      </nav>
    </section>
  );
}
