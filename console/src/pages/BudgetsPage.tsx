// Finance: the people-plus-tokens budget tree of the account for a period kind, with headcount and limits
// editable in place, spent / held / left as bars, the forecast, the alerts that fired, and transfers of
// unused allocation. An allocation the tree refuses shows the API's sentence and marks the parent it names.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, json, ok, type Schemas } from '../api';
import type { Session } from '../App';
import { budgetEditBody, budgetTree, type BudgetEdit, type Burn, type TreeNode } from '../budget-tree';
import { Field, FormMessage, type Message } from '../components/Field';
import { dateTime, money, tokens } from '../format';

type Period = 'year' | 'quarter' | 'month';

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
  const [period, setPeriod] = useState<Period>('year');
  const [tree, setTree] = useState<TreeNode[]>([]);
  const [currency, setCurrency] = useState<string | null>(null);
  const [alerts, setAlerts] = useState<Schemas['BudgetAlert'][]>([]);
  const [edit, setEdit] = useState<BudgetEdit | null>(null);
  const [refusedParent, setRefusedParent] = useState<string | null>(null);
  const [message, setMessage] = useState<Message>(null);
  const [transfer, setTransfer] = useState({ from: '', to: '', amount: '', headcount: '', tokens: '' });

  // Only the latest load's answer is shown (a period switched twice quickly never ends on the first's).
  const loads = useRef(0);
  const load = useCallback(async () => {
    const mine = ++loads.current;
    try {
      const [acct, units, people, burns, fired] = await Promise.all([
        ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/units', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/people', { params: { path: { account } } })),
        ok(client.GET('/v1/accounts/{account}/budgets', { params: { path: { account }, query: { period } } })),
        ok(client.GET('/v1/accounts/{account}/budgets/alerts', { params: { path: { account } } })),
      ]);
      if (mine !== loads.current) return;
      setCurrency(acct.currency);
      setTree(budgetTree(acct.name, units.data, people.data, json(burns).data, canEdit ? 'all' : 'with-budget'));
      setAlerts(fired.data);
    } catch (failure) {
      if (mine === loads.current) setMessage({ error: true, text: (failure as Error).message });
    }
  }, [client, account, period, canEdit]);
  useEffect(() => {
    void load();
  }, [load]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (edit === null) return;
    setRefusedParent(null);
    const checked = budgetEditBody(period, edit, tree.find((n) => n.node === edit.node)?.burn ?? null);
    if ('error' in checked) {
      setMessage({ error: true, text: checked.error });
      return;
    }
    try {
      await ok(client.PUT('/v1/accounts/{account}/budgets/{node}', { params: { path: { account, node: edit.node } }, body: checked.body }));
      setMessage({ error: false, text: `Saved the ${period} budget of ${edit.node}.` });
      setEdit(null);
      await load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (typeof f.detail.parent === 'string') setRefusedParent(f.detail.parent);
      setMessage({ error: true, text: f.message });
    }
  };

  const move = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const moved = await ok(
        client.POST('/v1/accounts/{account}/budgets/transfers', {
          params: { path: { account } },
          body: {
            from: transfer.from,
            to: transfer.to,
            period,
            ...(transfer.amount ? { amount: transfer.amount } : {}),
            ...(transfer.headcount ? { headcount: Number(transfer.headcount) } : {}),
            ...(transfer.tokens ? { tokens: Number(transfer.tokens) } : {}),
          },
        }),
      );
      setMessage({ error: false, text: `Moved ${money(moved.moved.amount, currency, 2)}, ${moved.moved.headcount} heads, ${tokens(moved.moved.tokens)} tokens.` });
      await load();
    } catch (failure) {
      setMessage({ error: true, text: (failure as Error).message });
    }
  };

  const startEdit = (n: TreeNode) =>
    setEdit({
      node: n.node,
      headcount: n.burn?.headcount.allocated?.toString() ?? '',
      amount_limit: n.burn?.limit.amount ?? '',
      token_limit: n.burn?.limit.tokens?.toString() ?? '',
    });
  const budgeted = tree.filter((n) => n.burn !== null);

  return (
    <section>
      <div className="picker">
        <label htmlFor="budget-period">Period</label>
        <select id="budget-period" value={period} onChange={(e) => setPeriod(e.target.value as Period)}>
          <option value="year">year</option>
          <option value="quarter">quarter</option>
          <option value="month">month</option>
        </select>
      </div>
      <FormMessage message={message} testId="budget-message" />
      <form onSubmit={save} aria-label="Budget tree">
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Budgets">
          <table className="budgets" data-testid="budget-tree">
            <caption>
              {period} budgets{budgeted[0] ? ` · ${budgeted[0].burn!.period.start} to ${budgeted[0].burn!.period.end}` : ''}
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
                {canEdit ? <th scope="col">Edit</th> : null}
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
                          <input aria-label={`Headcount of ${n.name}`} inputMode="numeric" value={edit.headcount} onChange={(e) => setEdit({ ...edit, headcount: e.target.value })} />
                        </td>
                        <td>
                          <input aria-label={`Amount limit of ${n.name}`} inputMode="decimal" value={edit.amount_limit} onChange={(e) => setEdit({ ...edit, amount_limit: e.target.value })} />
                        </td>
                        <td>
                          <input aria-label={`Token limit of ${n.name}`} inputMode="numeric" value={edit.token_limit} onChange={(e) => setEdit({ ...edit, token_limit: e.target.value })} />
                        </td>
                      </>
                    ) : (
                      <>
                        <td className="num">
                          {b ? `${b.headcount.allocated ?? '—'} (${b.headcount.people} people, ${b.agents} agents)` : '—'}
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
                        </>
                      ) : null}
                    </td>
                    <td className="num">{b ? money(b.left.amount, currency, 2) : '—'}</td>
                    <td>
                      {b ? (
                        <span className="sub">
                          {money(b.forecast.amount_at_period_end, currency, 2)} at period end
                          {b.forecast.limit_reached_at ? ` · limit on ${dateTime(b.forecast.limit_reached_at)}` : ''}
                        </span>
                      ) : null}
                    </td>
                    {canEdit ? (
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
      {canEdit && budgeted.length > 1 ? (
        <form onSubmit={move} className="inline-form" aria-label="Transfer unused allocation">
          <h2 style={{ gridColumn: '1 / -1', margin: 0 }}>Transfer unused allocation</h2>
          <div className="field">
            <label htmlFor="transfer-from">From</label>
            <select id="transfer-from" value={transfer.from} onChange={(e) => setTransfer({ ...transfer, from: e.target.value })} required>
              <option value="">Choose…</option>
              {budgeted.map((n) => (
                <option key={n.node} value={n.node}>
                  {n.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="transfer-to">To (a sibling or the parent)</label>
            <select id="transfer-to" value={transfer.to} onChange={(e) => setTransfer({ ...transfer, to: e.target.value })} required>
              <option value="">Choose…</option>
              {budgeted.map((n) => (
                <option key={n.node} value={n.node}>
                  {n.name}
                </option>
              ))}
            </select>
          </div>
          <Field label="Amount" inputMode="decimal" value={transfer.amount} onChange={(e) => setTransfer({ ...transfer, amount: e.target.value })} />
          <Field label="Headcount" inputMode="numeric" value={transfer.headcount} onChange={(e) => setTransfer({ ...transfer, headcount: e.target.value })} />
          <Field label="Tokens" inputMode="numeric" value={transfer.tokens} onChange={(e) => setTransfer({ ...transfer, tokens: e.target.value })} />
          <button type="submit">Transfer</button>
        </form>
      ) : null}
      <h2>Alerts</h2>
      {alerts.length === 0 ? (
        <p className="sub">No alert has fired.</p>
      ) : (
        <ul className="ticker">
          {alerts.map((a) => (
            <li key={a.id}>
              <time dateTime={a.fired_at}>{dateTime(a.fired_at)}</time> <strong>{a.node}</strong>{' '}
              {a.kind === 'threshold' ? `crossed ${a.threshold} %` : 'forecast to exceed its limit'} ({a.period.kind} from {a.period.start})
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
