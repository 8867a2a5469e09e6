// My meter, like a utility meter: this period's tokens and cost running as operations land (the live
// stream), the allowance the plan includes and, for keys that read the whole account, what is left of it;
// the budget left; and what is left of each tier the plan caps this billing period.
import Decimal from 'decimal.js';
import { useEffect, useState } from 'react';
import { json, ok, type Schemas, whileCurrent } from '../api';
import type { Session } from '../App';
import { billingPeriod, subscriptionStanding } from '../billing-period';
import { budgetNodeText } from '../budget-tree';
import { CostFigure } from '../components/CostFigure';
import { dateTime, dayText, money, tokens } from '../format';
import { followMeter, type StreamOperation } from '../live';

type Totals = Schemas['StreamTotals'];

/** The budget with the least amount left (ties: the first), or null when none has an amount limit. */
export function tightestBudget(burns: Schemas['BudgetBurn'][]): { node: string; left: string; kind: string } | null {
  let best: Schemas['BudgetBurn'] | null = null;
  for (const b of burns) {
    if (b.left.amount === null) continue;
    if (best === null || new Decimal(b.left.amount).lt(best.left.amount!)) best = b;
  }
  return best === null ? null : { node: best.node, left: best.left.amount!, kind: best.period.kind };
}

function Odometer({ value, label }: { value: number; label: string }) {
  const digits = String(value).padStart(9, '0').split('');
  return (
    <div className="odometer" role="img" aria-label={`${label}: ${tokens(value)}`}>
      {digits.map((d, i) => (
        <span key={i} className={i < digits.length - String(value).length ? 'lead' : ''}>
          {d}
        </span>
      ))}
    </div>
  );
}

export function MeterPage({ session, account }: { session: Session; account: string }) {
  const { client, who } = session;
  const [totals, setTotals] = useState<Totals | null>(null);
  const [period, setPeriod] = useState<{ from: string; to: string } | null>(null);
  const [state, setState] = useState<'connecting' | 'live' | 'retrying'>('connecting');
  const [recent, setRecent] = useState<StreamOperation['event'][]>([]);
  const [currency, setCurrency] = useState<string | null>(null);
  const [subscription, setSubscription] = useState<Schemas['Subscription'] | null | undefined>(undefined);
  const [periodCost, setPeriodCost] = useState<string | null>(null);
  const [budget, setBudget] = useState<{ node: string; left: string; kind: string } | null | undefined>(undefined);
  const [tierCaps, setTierCaps] = useState<Schemas['TierCap'][]>([]);
  const wholeAccount = who.role === 'admin' || who.role === 'sales' || who.role === 'finance';

  useEffect(() => {
    const abort = new AbortController();
    void followMeter(
      client,
      account,
      {
        onReady: (ready) => {
          setTotals(ready.totals);
          setPeriod(ready.period);
        },
        onOperation: (op) => {
          setTotals(op.totals);
          setRecent((list) => [op.event, ...list].slice(0, 8));
        },
        onState: setState,
      },
      abort.signal,
    );
    return () => abort.abort();
  }, [client, account]);

  useEffect(
    () => whileCurrent(ok(client.GET('/v1/accounts/{account}', { params: { path: { account } } })), (a) => setCurrency(a.currency), () => setCurrency(null)),
    [client, account],
  );
  useEffect(
    () => whileCurrent(ok(client.GET('/v1/accounts/{account}/subscription', { params: { path: { account } } })), setSubscription, () => setSubscription(null)),
    [client, account],
  );

  // What the whole account spent this billing period, for keys that may read it (re-read as operations land).
  const operations = totals?.calls ?? 0;
  useEffect(() => {
    if (!wholeAccount || !subscription) return;
    const { from } = billingPeriod(new Date(), subscription.billing_anchor_day);
    return whileCurrent(
      ok(client.GET('/v1/accounts/{account}/meter', { params: { path: { account }, query: { from: from.toISOString() } } })),
      (reading) => setPeriodCost(json(reading).totals.cost),
      () => setPeriodCost(null),
    );
  }, [client, account, subscription, wholeAccount, operations]);

  // Budget left: the tightest amount left among the budgets this key reads (a member: their own and their
  // units'), re-read as operations land.
  useEffect(
    () =>
      whileCurrent(
        ok(client.GET('/v1/accounts/{account}/budgets', { params: { path: { account } } })),
        (list) => setBudget(tightestBudget(json(list).data)),
        () => setBudget(null),
      ),
    [client, account, operations],
  );

  // The plan's tier caps (none: no dial), re-read as operations land.
  useEffect(
    () =>
      whileCurrent(
        ok(client.GET('/v1/accounts/{account}/caps/tiers', { params: { path: { account } } })),
        (list) => setTierCaps(json(list).data),
        () => setTierCaps([]),
      ),
    [client, account, operations],
  );

  const standing = subscription === undefined ? null : subscriptionStanding(subscription, new Date());
  const included = standing?.kind === 'running' ? subscription!.effective_terms.included_allowance : null;
  const left = included !== null && periodCost !== null ? Decimal.max(new Decimal(included).minus(periodCost), 0) : null;
  const usedShare = included !== null && periodCost !== null && new Decimal(included).gt(0) ? Decimal.min(new Decimal(periodCost).div(included), 1).toNumber() : null;

  return (
    <section aria-labelledby="meter-heading" className="meter-page">
      <h2 id="meter-heading" className="sr-only">
        This period
      </h2>
      <p className={`live ${state}`} role="status" data-testid="live-state">
        <span className="dot" aria-hidden="true" />
        <span>
          {state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
          {period ? ` · ${dateTime(period.from)} – ${dateTime(period.to)}` : ''}
          {who.person_id ? ` · ${who.person_id}` : ''}
        </span>
      </p>
      <div className="meter" aria-live="polite" aria-atomic="false">
        <div className="dial">
          <h3>Tokens</h3>
          <Odometer value={totals?.tokens.total ?? 0} label="Tokens this period" />
          <p className="value" data-testid="meter-tokens">
            {tokens(totals?.tokens.total ?? 0)}
          </p>
          <dl className="kinds">
            <dt>input</dt>
            <dd>{tokens(totals?.tokens.input ?? 0)}</dd>
            <dt>cached</dt>
            <dd>{tokens(totals?.tokens.cached_input ?? 0)}</dd>
            <dt>output</dt>
            <dd>{tokens(totals?.tokens.output ?? 0)}</dd>
          </dl>
        </div>
        <div className="dial">
          <h3>Cost</h3>
          <CostFigure sums={totals} currency={currency} testId="meter" />
          <p className="sub" data-testid="meter-calls">
            {tokens(totals?.calls ?? 0)} operations
          </p>
        </div>
        <div className="dial">
          <h3>Allowance</h3>
          {standing === null ? (
            <p className="sub">…</p>
          ) : standing.kind === 'none' ? (
            <p className="sub">No subscription</p>
          ) : standing.kind === 'ended' ? (
            <p className="sub" data-testid="subscription-ended">
              Subscription ended {dayText(standing.on)}: nothing included
            </p>
          ) : (
            <>
              <p className="value big" data-testid="allowance-left">
                {left !== null ? money(left.toFixed(), currency, 2) : money(included, currency, 2)}
              </p>
              <p className="sub">
                {left !== null ? `left of ${money(included, currency, 2)} included this billing period` : 'included per billing period (account-wide)'}
                {standing.endsOn ? ` · the subscription ends ${dayText(standing.endsOn)}` : ''}
              </p>
              {usedShare !== null ? (
                <meter className="bar" min={0} max={1} low={0.7} high={0.9} optimum={0} value={usedShare} aria-label="Allowance used">
                  {Math.round(usedShare * 100)} %
                </meter>
              ) : null}
            </>
          )}
        </div>
        <div className="dial">
          <h3>Budget left</h3>
          {budget === undefined ? (
            <p className="sub">…</p>
          ) : budget === null ? (
            <p className="sub">No budget with an amount limit</p>
          ) : (
            <>
              <p className="value big" data-testid="budget-left">
                {money(budget.left, currency, 2)}
              </p>
              <p className="sub" data-testid="budget-node">
                this {budget.kind}, {budgetNodeText(budget.node, who.person_id)}
              </p>
            </>
          )}
        </div>
        {tierCaps.length > 0 ? (
          <div className="dial">
            <h3>Tier caps</h3>
            <ul className="tier-caps" data-testid="tier-caps">
              {tierCaps.map((c) => (
                <li key={c.tier}>
                  <p className="value" data-testid={`tier-cap-${c.tier}`}>
                    {tokens(Math.max(c.left_tokens, 0))} {c.tier} tokens left
                  </p>
                  <p className="sub">
                    of {tokens(c.token_limit)} this billing period (account-wide){c.left_tokens < 0 ? `, ${tokens(-c.left_tokens)} over` : ''}
                  </p>
                  <meter
                    className="bar"
                    min={0}
                    max={1}
                    low={0.7}
                    high={0.9}
                    optimum={0}
                    value={c.token_limit === 0 ? 1 : Math.min((c.spent_tokens + c.held_tokens) / c.token_limit, 1)}
                    aria-label={`${c.tier} cap used`}
                  />
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </div>
      <h3>Latest operations</h3>
      {recent.length === 0 ? (
        <p className="sub">Operations appear here the moment they are reported.</p>
      ) : (
        <ul className="ticker" data-testid="ticker">
          {recent.map((e) => (
            <li key={e.id}>
              <time dateTime={e.timestamp}>{dateTime(e.timestamp)}</time> <strong>{e.operation ?? '(no operation)'}</strong> {e.model ?? ''} ·{' '}
              {tokens(e.tokens.total)} tokens · {e.cost ? money(e.cost.total, currency) : 'unpriced'} <span className={`tag ${e.label}`}>{e.label}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
