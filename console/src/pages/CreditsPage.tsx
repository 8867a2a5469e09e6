// Finance and sales: the account's credits: the balance, the grants in burn order (kind, priority, expiry,
// what remains) and the ledger's movements paged; finance buys a top-up pack of the plan, sales adds a
// promotional grant. What the key may read or do is the API's to say; a refusal shows its sentence.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, ok, type Schemas, type TokenmeterClient, whileCurrent } from '../api';
import type { Session } from '../App';
import { DataTable, Pager, useCursorPages } from '../components/DataTable';
import { Field, FormMessage, type Message } from '../components/Field';
import { Refusal } from '../components/Refusal';
import { emptyGrant, grantBody, grantErrors, purchaseId, topupErrors, type GrantForm } from '../credit-forms';
import { dateTime, money } from '../format';

type Credits = Schemas['Credits'];

const PAGE = 20;

export function CreditsPage({ session, account }: { session: Session; account: string }) {
  const { client, who } = session;
  const pages = useCursorPages();
  const [credits, setCredits] = useState<Credits | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  const before = pages.cursor;

  useEffect(
    () =>
      whileCurrent(
        ok(client.GET('/v1/accounts/{account}/credits', { params: { path: { account }, query: { limit: PAGE, ...(before ? { before } : {}) } } })),
        (c) => {
          setCredits(c);
          setFailure(null);
        },
        setFailure,
      ),
    [client, account, before, version],
  );

  // After a purchase or a grant: the newest entries, where it shows.
  const { first } = pages;
  const reload = useCallback(() => {
    first();
    setVersion((v) => v + 1);
  }, [first]);

  if (failure) return <Refusal failure={failure} what="the credits" />;
  if (credits === null) return <p role="status">Reading the credits…</p>;
  const c = credits.currency;
  return (
    <section aria-label="Credits">
      <div className="balances">
        <div className="card">
          <h2>Balance</h2>
          <p className="value big" data-testid="credit-balance">
            {money(credits.balance, c, 2)}
          </p>
          <p className="sub">What the grants that have not expired hold.</p>
        </div>
        <div className="card">
          <h2>Available now</h2>
          <p className="value big" data-testid="credit-available">
            {money(credits.available, c, 2)}
          </p>
          <p className="sub">
            Grants in force
            {credits.pending_allowance ? (
              <span data-testid="pending-allowance">
                , plus this period's allowance of {money(credits.pending_allowance.amount, c, 2)} (pending: granted within a minute)
              </span>
            ) : null}
            , less usage not yet booked ({money(credits.unbooked_usage, c, 4)}).
          </p>
        </div>
        <div className="card">
          <h2>Past the allowance</h2>
          <p className="value big">{credits.overage_policy === null ? 'no plan' : credits.overage_policy === 'bill' ? 'billed' : 'blocked'}</p>
          <p className="sub">
            {credits.overage_policy === null
              ? 'The account has no subscription: no allowance, no overage.'
              : credits.overage_policy === 'block'
                ? 'Authorizations hold only what credits can pay.'
                : 'Overage is billed on the invoice.'}
          </p>
        </div>
      </div>

      <h2 id="grants-heading">Grants, in burn order</h2>
      <DataTable
        labelledBy="grants-heading"
        tableClass="wide"
        testId="grants"
        rows={credits.grants}
        rowKey={(g) => g.id}
        rowData={(g) => ({ 'data-grant': g.id })}
        empty="No grants in force."
        columns={[
          {
            header: 'Kind',
            rowHeader: true,
            cell: (g) => (
              <>
                {g.kind}
                {g.topup_id ? <span className="sub block">top-up {g.topup_id}</span> : null}
              </>
            ),
          },
          { header: 'Priority', num: true, cell: (g) => g.priority },
          { header: 'Granted', num: true, cell: (g) => money(g.amount, c, 2) },
          { header: 'Remaining', num: true, cell: (g) => money(g.remaining, c, 4) },
          { header: 'Expires', cell: (g) => (g.expires_at ? <time dateTime={g.expires_at}>{dateTime(g.expires_at)}</time> : 'never') },
          { header: 'Why', cell: (g) => g.reason ?? '—' },
        ]}
      />

      <div className="forms">
        {who.role === 'admin' || who.role === 'finance' ? <TopupForm client={client} account={account} onDone={reload} /> : null}
        {who.role === 'admin' || who.role === 'sales' ? <PromotionalForm client={client} account={account} onDone={reload} /> : null}
      </div>

      <h2 id="entries-heading">Ledger movements</h2>
      <p className="sub">Newest first. Each movement is two entries that sum to zero; usage is booked against the grants every minute.</p>
      <DataTable
        labelledBy="entries-heading"
        tableClass="wide"
        testId="entries"
        rows={credits.entries}
        rowKey={(m) => m.id}
        empty="No movements."
        columns={[
          { header: 'When', cell: (m) => <time dateTime={m.at}>{dateTime(m.at)}</time> },
          {
            header: 'Movement',
            cell: (m) => (
              <>
                {m.kind}
                {m.usage_day ? <span className="sub block">usage of {m.usage_day}</span> : null}
              </>
            ),
          },
          { header: 'Amount', num: true, cell: (m) => money(m.amount, c, 4) },
          {
            header: 'Entries',
            cell: (m) =>
              m.entries.map((e) => (
                <span key={e.ledger_account} className="block sub">
                  {e.ledger_account}: {money(e.amount, null, 4)}
                </span>
              )),
          },
          { header: 'Memo', cell: (m) => m.memo ?? '—' },
        ]}
      />
      <Pager label="Pages of ledger movements" pages={pages} next={credits.next_before} />
    </section>
  );
}

/** Finance buys a top-up pack of the account's plan (granted at once without Stripe, pending with it). */
function TopupForm({ client, account, onDone }: { client: TokenmeterClient; account: string; onDone: () => void }) {
  // null until the subscription is read.
  const [packs, setPacks] = useState<Schemas['PlanTerms']['topup_packs'] | null>(null);
  const [plan, setPlan] = useState<string | null>(null);
  // The subscription could not be read (none yet): there is no plan to buy a pack of.
  const [noPlan, setNoPlan] = useState<string | null>(null);
  const [currency, setCurrency] = useState<string | null>(null);
  const [form, setForm] = useState(() => ({ id: purchaseId(new Date()), pack: '' }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);

  useEffect(
    () =>
      whileCurrent(
        ok(client.GET('/v1/accounts/{account}/subscription', { params: { path: { account } } })),
        (sub) => {
          setPacks(sub.effective_terms.topup_packs);
          setPlan(sub.effective_terms.name);
          setCurrency(sub.effective_terms.currency);
        },
        (f) => setNoPlan((f as Error).message),
      ),
    [client, account],
  );

  const buy = async (e: FormEvent) => {
    e.preventDefault();
    const found = topupErrors(form);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: 'Fix the marked fields first.' });
      return;
    }
    try {
      const topup = await ok(client.POST('/v1/accounts/{account}/credits/topups', { params: { path: { account } }, body: { id: form.id.trim(), pack: form.pack } }));
      setMessage({
        error: false,
        text:
          topup.status === 'granted'
            ? `Bought ${topup.pack} (${topup.id}): ${money(topup.allowance, topup.currency, 2)} granted.`
            : `Ordered ${topup.pack} (${topup.id}): granted when its invoice of ${money(topup.price, topup.currency, 2)} is paid.`,
      });
      setForm({ id: purchaseId(new Date()), pack: '' });
      onDone();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [f.field]: f.message });
      setMessage({ error: true, text: f.message });
    }
  };

  // A plan without packs: nothing to buy, said as such (a form whose only choice was "The plan sells no packs"
  // answered its own button with "Choose a pack.").
  if (noPlan !== null) {
    return (
      <section aria-label="Buy a top-up">
        <h2>Buy a top-up</h2>
        <p className="sub" data-testid="no-packs">
          Top-ups are packs of the account’s plan, and its plan could not be read: {noPlan}
        </p>
      </section>
    );
  }
  if (packs !== null && packs.length === 0) {
    return (
      <section aria-label="Buy a top-up">
        <h2>Buy a top-up</h2>
        <p className="sub" data-testid="no-packs">
          The plan {plan ? `${plan} ` : ''}sells no top-up packs, so there is nothing to buy here. Sales can add packs to the plan.
        </p>
      </section>
    );
  }
  return (
    <form onSubmit={buy} noValidate aria-label="Buy a top-up">
      <h2>Buy a top-up</h2>
      <div className={`field${errors.pack ? ' invalid' : ''}`}>
        <label htmlFor="topup-pack">Pack</label>
        <select
          id="topup-pack"
          value={form.pack}
          aria-invalid={errors.pack ? true : undefined}
          aria-describedby={errors.pack ? 'topup-pack-note' : undefined}
          onChange={(e) => setForm({ ...form, pack: e.target.value })}
        >
          <option value="">{packs === null ? 'Reading the plan’s packs…' : 'Choose…'}</option>
          {(packs ?? []).map((p) => (
            <option key={p.id} value={p.id}>
              {p.id}: {money(p.allowance, currency, 2)} for {money(p.price, currency, 2)}, {p.validity_days} days
            </option>
          ))}
        </select>
        {errors.pack ? (
          <span id="topup-pack-note" className="error">
            {errors.pack}
          </span>
        ) : null}
      </div>
      <Field label="Purchase id" hint="Your order number; sent again, it buys nothing twice." value={form.id} error={errors.id} onChange={(e) => setForm({ ...form, id: e.target.value })} />
      <button type="submit">Buy top-up</button>
      <FormMessage message={message} testId="topup-message" />
    </form>
  );
}

/** Sales adds a promotional grant: an amount (a decimal string), its burn priority and expiry. */
function PromotionalForm({ client, account, onDone }: { client: TokenmeterClient; account: string; onDone: () => void }) {
  const [form, setForm] = useState<GrantForm>(emptyGrant);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);
  const set = (key: keyof GrantForm) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const grant = async (e: FormEvent) => {
    e.preventDefault();
    const found = grantErrors(form, new Date());
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: 'Fix the marked fields first.' });
      return;
    }
    try {
      const saved = await ok(client.POST('/v1/accounts/{account}/credits/grants', { params: { path: { account } }, body: grantBody(form) }));
      setMessage({ error: false, text: `Granted ${saved.amount} (priority ${saved.priority}${saved.expires_at ? `, expires ${dateTime(saved.expires_at)}` : ''}).` });
      setForm(emptyGrant());
      onDone();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [f.field === 'expires_at' ? 'expires_on' : f.field]: f.message });
      setMessage({ error: true, text: f.message });
    }
  };

  return (
    <form onSubmit={grant} noValidate aria-label="Add a promotional grant">
      <h2>Add a promotional grant</h2>
      <Field label="Amount" inputMode="decimal" hint="A decimal, like 25.00" value={form.amount} error={errors.amount} onChange={set('amount')} />
      <Field label="Priority" inputMode="numeric" hint="1 to 1000, lower burns first; default 10" value={form.priority} error={errors.priority} onChange={set('priority')} />
      <Field label="Valid for (days)" inputMode="numeric" hint="To the end of the UTC day they run out in; empty: never expires (or give a date)" value={form.validity_days} error={errors.validity_days} onChange={set('validity_days')} />
      <Field label="Expires on" type="date" value={form.expires_on} error={errors.expires_on} onChange={set('expires_on')} />
      <Field label="Reason" value={form.reason} error={errors.reason} onChange={set('reason')} />
      <button type="submit">Add grant</button>
      <FormMessage message={message} testId="grant-message" />
    </form>
  );
}
