// Finance: the people-plus-tokens budget tree of the account for a period (the one in force, or one picked
// by its kind and first day and kept in the address: ended, or still to come), with headcount and limits
// editable in place while the period has not ended, spent / held / left as bars, the forecast, the alerts
// fired in that period, and transfers of unused allocation. Whether the period is in force, ended or to
// come is the service's word (its clock), never this browser's. An allocation the tree refuses shows the
// API's sentence and marks the parent it names.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, json, ok, type Schemas } from '../api';
import type { Session } from '../App';
import { budgetPeriodOf, budgetsHref, parseDay, periodShown, pickedPeriod, stepPeriod, type BudgetPeriod, type ListedPeriod, type PeriodKind } from '../budget-period';
import { budgetEditBody, budgetTree, countsText, emptyTransfer, leftText, limitText, movedText, transferBody, transferErrors, type BudgetEdit, type Burn, type TransferForm, type TreeNode } from '../budget-tree';
import { Field, FormMessage, type Message } from '../components/Field';
import { dateTime, dayText, money, periodText, tokens } from '../format';
import { useHashParam } from '../hash-params';

function Bar({ burn }: { burn: Burn }) {
  const limit = burn.limit.amount === null ? null : Number(burn.limit.amount);
  if (limit === null || limit <= 0) return <span className="sub">no amount limit</span>;
  const spent = Math.min(Number(burn.spent.amount) / limit, 1);
  const held = Math.min(Number(burn.held.amount) / limit, 1 - spent);
  const label = `spent ${Math.round(spent * 100)} %, held ${Math.round(held * 100)} % of the amount limit`;
  return (
    <div className="burnbar" role="img" aria-label={label} title={label}>
      <span className="spent" style={{ width: `${spent * 100}%` }} />
      <span className="held" style={{ width: `${held * 100}%` }} />
    </div>
  );
}

export function BudgetsPage({ session, account }: { session: Session; account: string }) {
  const { client, who } = session;
  const canEdit = who.role === 'admin' || who.role === 'finance';
  // The period picked is the address's (`#/budgets?period=month&start=2027-01-01`), as an invoice's is, so it
  // is kept on reload, can be bookmarked and shared, and Back returns to the one before. `start` is its first
  // day; null: the one in force now (the service's clock says which).
  const { kind: period, start } = pickedPeriod(useHashParam('period'), useHashParam('start'));
  const [tree, setTree] = useState<TreeNode[]>([]);
  const [currency, setCurrency] = useState<string | null>(null);
  const [fiscalMonth, setFiscalMonth] = useState<number | null>(null);
  // The alerts of the period listed; null until they are read, 'failed' when the page's reading failed.
  const [alerts, setAlerts] = useState<Schemas['BudgetAlert'][] | null | 'failed'>(null);
  // What the service said of the period it listed (and its clock), for the pick it answered.
  const [listing, setListing] = useState<{ pick: string; listed: ListedPeriod } | null>(null);
  const [edit, setEdit] = useState<BudgetEdit | null>(null);
  const [refusedParent, setRefusedParent] = useState<string | null>(null);
  const [message, setMessage] = useState<Message>(null);
  const [transfer, setTransfer] = useState<TransferForm>(emptyTransfer);
  const [transferChecked, setTransferChecked] = useState(false);
  // The edited row's field a refusal names (checked here or by the service), marked and tied to the sentence.
  const [badField, setBadField] = useState<string | null>(null);

  // Only the latest load's answer is shown (a period switched twice quickly never ends on the first's).
  const loads = useRef(0);
  const load = useCallback(async () => {
    const mine = ++loads.current;
    try {
      const [acct, units, people, answer] = await Promise.all([
        ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/units', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/people', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/budgets', { params: { path: { account }, query: { period, ...(start === null ? {} : { period_start: start }) } } })),
      ]);
      const burns = json(answer);
      // The alerts of the period listed only (the service named it: the one in force is the one by its clock).
      const listed = burns.period;
      const fired =
        listed === null
          ? { data: [] }
          : await ok(client.GET('/v1/accounts/{account}/budgets/alerts', { params: { path: { account }, query: { period: listed.kind, period_start: listed.start } } }));
      if (mine !== loads.current) return;
      setCurrency(acct.currency);
      setFiscalMonth(acct.fiscal_year_start_month);
      setTree(budgetTree(acct.name, units.data, people.data, burns.data, canEdit ? 'all' : 'with-budget'));
      setListing({ pick: `${period} ${start}`, listed: { period: burns.period, as_of: burns.as_of } });
      setAlerts(fired.data);
    } catch (failure) {
      if (mine === loads.current) {
        setMessage({ error: true, text: (failure as Error).message });
        setAlerts('failed');
      }
    }
  }, [client, account, period, start, canEdit]);
  // Another period shown (picked here, or by the address: a link, Back): nothing of the one before stays.
  useEffect(() => {
    setEdit(null);
    setRefusedParent(null);
    setMessage(null);
    setTree([]);
    setAlerts(null);
  }, [period, start]);
  useEffect(() => {
    void load();
  }, [load]);

  const budgeted = tree.filter((n) => n.burn !== null);

  // The period shown: the one picked, else the one in force; in force, ended or to come by the service's clock
  // (the `as_of` of its answer), never this browser's.
  const listed = listing?.pick === `${period} ${start}` ? listing.listed : null;
  const { period: shown, standing } = periodShown({ kind: period, start }, fiscalMonth, listed);
  // An ended period's budgets no longer change (the service refuses with 409 budget_period_ended).
  const writable = canEdit && standing !== null && standing !== 'ended';

  /** Shows the period of `kind` starting on `first` (null: the one in force, and no `start` in the address). */
  const switchTo = (kind: PeriodKind, first: string | null) => {
    if (kind === period && first === start) return;
    window.location.hash = budgetsHref({ kind, start: first });
  };
  /** Shows `next`, a period of the fiscal calendar; the one in force now is shown as such. */
  const show = (next: BudgetPeriod) => {
    const inForce = fiscalMonth === null || listed === null ? null : budgetPeriodOf(next.kind, fiscalMonth, new Date(listed.as_of));
    switchTo(next.kind, next.start === inForce?.start ? null : next.start);
  };
  // Another kind: the period of that kind holding the one shown (a month picked becomes its quarter, its year).
  const pickKind = (kind: PeriodKind) => (start === null || fiscalMonth === null ? switchTo(kind, null) : show(budgetPeriodOf(kind, fiscalMonth, parseDay(start)!)));
  // A day picked: the period holding it.
  const pickDay = (text: string) => {
    const day = parseDay(text);
    if (day !== null && fiscalMonth !== null) show(budgetPeriodOf(period, fiscalMonth, day));
  };

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (edit === null) return;
    setRefusedParent(null);
    const checked = budgetEditBody(period, edit, tree.find((n) => n.node === edit.node)?.burn ?? null, start ?? undefined);
    if ('error' in checked) {
      setBadField(checked.field);
      setMessage({ error: true, text: checked.error });
      return;
    }
    setBadField(null);
    const name = tree.find((n) => n.node === edit.node)?.name ?? edit.node;
    try {
      await ok(client.PUT('/v1/accounts/{account}/budgets/{node}', { params: { path: { account, node: edit.node } }, body: checked.body }));
      setMessage({ error: false, text: `Saved the ${period} budget of ${name}${start === null || shown === null ? '' : ` for ${periodText(shown.start, shown.end)}`}.` });
      setEdit(null);
      await load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (typeof f.detail.parent === 'string') setRefusedParent(f.detail.parent);
      if (typeof f.detail.field === 'string') setBadField(f.detail.field);
      setMessage({ error: true, text: f.message });
    }
  };

  const transferProblems = transferChecked ? transferErrors(transfer) : {};
  const move = async (e: FormEvent) => {
    e.preventDefault();
    setTransferChecked(true);
    const problems = transferErrors(transfer);
    const first = (['from', 'to', 'amount', 'headcount', 'tokens'] as const).find((f) => problems[f] !== undefined);
    if (first !== undefined) {
      setMessage({ error: true, text: 'Fix the marked transfer fields first.' });
      document.getElementById(`transfer-${first}`)?.focus();
      return;
    }
    const nameOf = (node: string) => tree.find((n) => n.node === node)?.name ?? node;
    try {
      const moved = await ok(
        client.POST('/v1/accounts/{account}/budgets/transfers', { params: { path: { account } }, body: transferBody(transfer, period, start ?? undefined) }),
      );
      setMessage({
        error: false,
        text: `Moved ${movedText(moved.moved, (v) => money(v, currency, 2), tokens)} from ${nameOf(transfer.from)} to ${nameOf(transfer.to)}.`,
      });
      setTransfer(emptyTransfer());
      setTransferChecked(false);
      await load();
    } catch (failure) {
      setMessage({ error: true, text: (failure as Error).message });
    }
  };

  const startEdit = (n: TreeNode) => {
    setBadField(null);
    setEdit({
      node: n.node,
      headcount: n.burn?.headcount.allocated?.toString() ?? '',
      amount_limit: n.burn?.limit.amount ?? '',
      token_limit: n.burn?.limit.tokens?.toString() ?? '',
    });
  };
  const invalid = (field: string) => (badField === field ? { 'aria-invalid': true, 'aria-describedby': 'budget-message' } : {});
  return (
    <section>
      <div className="picker period-picker" role="group" aria-label="Budget period">
        <label htmlFor="budget-period">Period</label>
        <select id="budget-period" value={period} onChange={(e) => pickKind(e.target.value as PeriodKind)}>
          <option value="year">year</option>
          <option value="quarter">quarter</option>
          <option value="month">month</option>
        </select>
        <label htmlFor="budget-start">Starting</label>
        <input
          id="budget-start"
          type="date"
          value={shown?.start ?? ''}
          disabled={shown === null}
          onChange={(e) => pickDay(e.target.value)}
          aria-describedby="budget-period-shown"
        />
        <button type="button" className="secondary small" disabled={shown === null} onClick={() => shown && fiscalMonth !== null && show(stepPeriod(shown, fiscalMonth, -1))}>
          Previous {period}
        </button>
        <button type="button" className="secondary small" disabled={shown === null} onClick={() => shown && fiscalMonth !== null && show(stepPeriod(shown, fiscalMonth, 1))}>
          Next {period}
        </button>
        <button type="button" className="secondary small" disabled={start === null} onClick={() => switchTo(period, null)}>
          Current {period}
        </button>
      </div>
      <p id="budget-period-shown" className="sub" data-testid="budget-period">
        {shown === null || standing === null
          ? `Reading the ${period} budgets…`
          : `The ${period} ${periodText(shown.start, shown.end)}: ${
              standing === 'current'
                ? 'in force now.'
                : standing === 'to come'
                  ? 'to come; allocated ahead, nothing spent yet.'
                  : 'ended; what was spent in it. Its budgets no longer change.'
            }`}
      </p>
      <FormMessage message={message} testId="budget-message" id="budget-message" />
      <form onSubmit={save} aria-label="Budget tree">
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Budgets">
          <table className="budgets" data-testid="budget-tree">
            <caption>
              {period} budgets{shown ? ` · ${periodText(shown.start, shown.end)}${standing === 'current' || standing === null ? '' : ` (${standing})`}` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col" className="num">
                  Headcount
                </th>
                <th scope="col" className="num">
                  Amount limit
                </th>
                <th scope="col" className="num">
                  Token limit
                </th>
                <th scope="col">Spent / held</th>
                <th scope="col" className="num">
                  Left
                </th>
                <th scope="col">Forecast</th>
                {writable ? <th scope="col">Edit</th> : null}
              </tr>
            </thead>
            <tbody>
              {tree.map((n) => {
                const editing = edit?.node === n.node;
                const b = n.burn;
                return (
                  <tr key={n.node} className={n.node === refusedParent ? 'refused' : undefined} data-node={n.node}>
                    <th scope="row" style={{ paddingLeft: `${0.6 + n.depth * 1.1}rem` }}>
                      {n.name} <span className="sub">{n.kind === 'account' ? 'account' : n.node}</span>
                      {n.node === refusedParent ? <span className="tag ineffective"> would be over-allocated</span> : null}
                    </th>
                    {editing ? (
                      <>
                        <td>
                          <input aria-label={`Headcount of ${n.name}`} {...invalid('headcount')} inputMode="numeric" value={edit.headcount} onChange={(e) => setEdit({ ...edit, headcount: e.target.value })} />
                        </td>
                        <td>
                          <input aria-label={`Amount limit of ${n.name}`} {...invalid('amount_limit')} inputMode="decimal" value={edit.amount_limit} onChange={(e) => setEdit({ ...edit, amount_limit: e.target.value })} />
                        </td>
                        <td>
                          <input aria-label={`Token limit of ${n.name}`} {...invalid('token_limit')} inputMode="numeric" value={edit.token_limit} onChange={(e) => setEdit({ ...edit, token_limit: e.target.value })} />
                        </td>
                      </>
                    ) : (
                      <>
                        <td className="num">
                          {b ? `${b.headcount.allocated ?? '—'} (${countsText(b.headcount.people, b.agents)})` : '—'}
                        </td>
                        <td className="num">{b ? money(b.limit.amount, currency, 2) : '—'}</td>
                        <td className="num">{b && b.limit.tokens !== null ? tokens(b.limit.tokens) : '—'}</td>
                      </>
                    )}
                    <td>
                      {b ? (
                        <>
                          <Bar burn={b} />
                          <span className="sub">
                            {money(b.spent.amount, currency, 2)} spent · {money(b.held.amount, currency, 2)} held
                          </span>
                          <span className="sub block" data-testid="budget-tokens-spent">
                            {tokens(b.spent.tokens)} tokens spent{b.held.tokens > 0 ? ` · ${tokens(b.held.tokens)} held` : ''}
                          </span>
                        </>
                      ) : null}
                    </td>
                    <td className="num">
                      {b ? (b.left.amount === null ? '—' : leftText(b.left.amount, (v) => money(v, currency, 2))) : '—'}
                      {b && b.left.tokens !== null ? <span className="sub block">{leftText(b.left.tokens, (v) => `${tokens(Number(v))} tokens`)}</span> : null}
                    </td>
                    <td>
                      {b ? (
                        <span className="sub">
                          {money(b.forecast.amount_at_period_end, currency, 2)} at period end
                          {limitText(b.forecast.limit_reached_at, listed?.as_of ?? null, dateTime)}
                        </span>
                      ) : null}
                    </td>
                    {writable ? (
                      <td>
                        {editing ? (
                          <span className="row-actions">
                            <button type="submit" className="small">
                              Save
                            </button>
                            <button type="button" className="secondary small" onClick={() => setEdit(null)}>
                              Cancel
                            </button>
                          </span>
                        ) : (
                          <button type="button" className="secondary small" aria-label={`Edit the budget of ${n.name}`} onClick={() => startEdit(n)}>
                            Edit
                          </button>
                        )}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </form>
      {writable && budgeted.length > 1 ? (
        <form onSubmit={move} className="inline-form" aria-label="Transfer unused allocation">
          <h2 style={{ gridColumn: '1 / -1', margin: 0 }}>Transfer unused allocation</h2>
          <div className="field">
            <label htmlFor="transfer-from">From</label>
            <select
              id="transfer-from"
              value={transfer.from}
              onChange={(e) => setTransfer({ ...transfer, from: e.target.value })}
              aria-invalid={transferProblems.from ? true : undefined}
              aria-describedby={transferProblems.from ? 'transfer-from-note' : undefined}
            >
              <option value="">Choose…</option>
              {budgeted.map((n) => (
                <option key={n.node} value={n.node}>
                  {n.name}
                </option>
              ))}
            </select>
            {transferProblems.from ? (
              <span id="transfer-from-note" className="error">
                {transferProblems.from}
              </span>
            ) : null}
          </div>
          <div className="field">
            <label htmlFor="transfer-to">To (a sibling or the parent)</label>
            <select
              id="transfer-to"
              value={transfer.to}
              onChange={(e) => setTransfer({ ...transfer, to: e.target.value })}
              aria-invalid={transferProblems.to ? true : undefined}
              aria-describedby={transferProblems.to ? 'transfer-to-note' : undefined}
            >
              <option value="">Choose…</option>
              {budgeted.map((n) => (
                <option key={n.node} value={n.node}>
                  {n.name}
                </option>
              ))}
            </select>
            {transferProblems.to ? (
              <span id="transfer-to-note" className="error">
                {transferProblems.to}
              </span>
            ) : null}
          </div>
          <Field id="transfer-amount" label="Amount" inputMode="decimal" error={transferProblems.amount} value={transfer.amount} onChange={(e) => setTransfer({ ...transfer, amount: e.target.value })} />
          <Field id="transfer-headcount" label="Headcount" inputMode="numeric" error={transferProblems.headcount} value={transfer.headcount} onChange={(e) => setTransfer({ ...transfer, headcount: e.target.value })} />
          <Field id="transfer-tokens" label="Tokens" inputMode="numeric" error={transferProblems.tokens} value={transfer.tokens} onChange={(e) => setTransfer({ ...transfer, tokens: e.target.value })} />
          <button type="submit">Transfer</button>
        </form>
      ) : null}
      <h2>Alerts</h2>
      {alerts === null ? (
        <p className="sub" data-testid="budget-alerts">
          Reading the alerts…
        </p>
      ) : alerts === 'failed' ? (
        <p className="sub" data-testid="budget-alerts">
          The alerts were not read: the page could not be read (above).
        </p>
      ) : alerts.length === 0 ? (
        <p className="sub" data-testid="budget-alerts">
          No alert has fired in this {period}.
        </p>
      ) : (
        <ul className="ticker" data-testid="budget-alerts" aria-label={shown === null ? 'Alerts' : `Alerts of the ${period} ${periodText(shown.start, shown.end)}`}>
          {alerts.map((a) => (
            <li key={a.id}>
              <time dateTime={a.fired_at}>{dateTime(a.fired_at)}</time> <strong>{tree.find((n) => n.node === a.node)?.name ?? a.node}</strong>{' '}
              {a.kind === 'threshold' ? `crossed ${a.threshold} %` : 'forecast to exceed its limit'} ({a.period.kind} from {dayText(a.period.start)})
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
