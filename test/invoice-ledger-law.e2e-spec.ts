// The invoice and the credit ledger tell one story, over random histories, on whichever store the
// environment gives: usage, promotional grants, top-ups, plan versions changing the allowance mid-period,
// the billing anchor moved (until a period is invoiced), time running over period boundaries, the credits
// job settling every minute (but not between writes of one instant) and the periods closed as they end. For every invoice of a `bill` plan:
// - what it bills for usage (the overage lines less the credits applied) is the usage of its period's days
//   that no grant covered in the ledger (`credit_usage_days.uncovered`);
// - the credits it applies are what the ledger's grants other than the period allowance paid for those
//   days (burns less restores).
// So the allowance the invoice counts is the one the ledger booked, and a grant never pays for usage the
// invoice bills, nor the invoice take off what no grant paid.
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { CreditsSettleService } from '../billing/credits/credits-settle.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startAppWithoutJobs, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;

const DAY_MINUTES = 24 * 60;
const euros = (cents: number) => (cents / 100).toFixed(2);
const cents = (amount: string) => Math.round(Number(amount) * 100);

type Op =
  | { kind: 'advance'; minutes: number }
  | { kind: 'spend'; cents: number }
  | { kind: 'grant'; cents: number; days: number }
  | { kind: 'topup' }
  | { kind: 'anchor'; day: number }
  /** A new version of the account's plan, with this allowance. */
  | { kind: 'version'; cents: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(60, DAY_MINUTES, 3 * DAY_MINUTES, 10 * DAY_MINUTES, 20 * DAY_MINUTES).map((minutes): Op => ({ kind: 'advance', minutes })) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 900 }).map((c): Op => ({ kind: 'spend', cents: c })) },
  { weight: 1, arbitrary: fc.record({ cents: fc.integer({ min: 1, max: 800 }), days: fc.integer({ min: 1, max: 15 }) }).map((r): Op => ({ kind: 'grant', ...r })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'topup' }) },
  // Moved to a later day than the subscription's first (the 10th), a period of the new anchor may have ended.
  { weight: 1, arbitrary: fc.constantFrom(1, 15, 28).map((day): Op => ({ kind: 'anchor', day })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3000 }).map((c): Op => ({ kind: 'version', cents: c })) },
);

interface InvoiceBody {
  period_start: string;
  period_end: string;
  lines: { kind: string; amount: string }[];
}

describe('invoices and the credit ledger agree', () => {
  let t: TestApp;
  let clock: ManualClock;
  let db: DataSource;
  let runs = 0;
  let events = 0;

  beforeAll(async () => {
    clock = new ManualClock('2026-03-10T12:00:00.000Z');
    // No job runs by itself: the test settles and closes as the schedules would.
    t = await startAppWithoutJobs(clock);
    db = t.app.get(DataSource);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const settle = (org: Org) => t.app.get(CreditsSettleService).settleAccount(org.account, clock.now());

  /** Closes every ended period not invoiced yet, finalized, as the hourly schedule does: the invoices closed. */
  async function closeEnded(org: Org): Promise<InvoiceBody[]> {
    const closed: InvoiceBody[] = [];
    for (;;) {
      const res = await t.post(`/v1/accounts/${org.account}/invoices/close`, { finalize: true }, org.keys.finance);
      if (res.status === 201) closed.push(res.body);
      else if (res.status === 200 || res.status === 409 || res.status === 404) return closed;
      else throw new Error(`close: ${res.status} ${res.text}`);
    }
  }

  /**
   * Time passes with the credits job running every minute and the hourly close: a run a minute in (after
   * what was written at the last instant) and one at the end (nothing else changes in between), then the
   * periods that ended are closed.
   */
  async function advance(org: Org, minutes: number, invoices: InvoiceBody[]): Promise<void> {
    clock.advance(60_000);
    await settle(org);
    clock.advance((minutes - 1) * 60_000);
    await settle(org);
    invoices.push(...(await closeEnded(org)));
  }

  /** The ledger's figures of [from, to): usage no grant covered, and what grants but the period allowance paid. */
  async function ledgerOf(account: string, from: string, to: string): Promise<{ uncovered: number; grantsPaid: number }> {
    // Usage the job did not book is uncovered too: days before the account's first grant have nothing to burn.
    const [u] = await db.query(
      `SELECT ((SELECT coalesce(sum(uncovered) - sum(booked), 0) FROM credit_usage_days WHERE account_id = $1 AND day >= $2::date AND day < $3::date)
             + (SELECT coalesce(sum(cost), 0) FROM meter_spend_daily WHERE account_id = $1 AND day >= $2::date AND day < $3::date))::text AS amount`,
      [account, from.slice(0, 10), to.slice(0, 10)],
    );
    const [g] = await db.query(
      `SELECT coalesce(sum(CASE WHEN m.kind = 'burn' THEN m.amount ELSE -m.amount END), 0)::text AS amount
         FROM credit_movements m JOIN credit_grants g ON g.account_id = m.account_id AND g.id = m.grant_id
        WHERE m.account_id = $1 AND m.kind IN ('burn', 'restore') AND g.kind <> 'allowance' AND m.usage_day >= $2::date AND m.usage_day < $3::date`,
      [account, from.slice(0, 10), to.slice(0, 10)],
    );
    return { uncovered: cents(u.amount), grantsPaid: cents(g.amount) };
  }

  it('bills as usage what no grant covered, and takes off as credits what grants paid (random histories)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3000 }),
        fc.constantFrom(1, 10, 15, 28),
        fc.array(fc.record({ op, settle: fc.boolean() }), { minLength: 4, maxLength: 18 }),
        async (allowanceCents, anchor, ops) => {
          clock.set('2026-03-10T12:00:00.000Z');
          const org = await newOrg(t);
          await setupPricing(t, org.account);
          const plan = `law-${++runs}`;
          const terms = (c: number) => ({
            currency: 'EUR',
            base_fee: '10.00',
            included_allowance: euros(c),
            overage_policy: 'bill',
            topup_packs: [{ id: 'small', allowance: '5.00', price: '6.00', validity_days: 30 }],
          });
          expect((await t.request('PUT', `/v1/plans/${plan}`, { body: terms(allowanceCents) })).status).toBeLessThan(300);
          const sub = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: plan, start_date: '2026-03-10', billing_anchor_day: anchor } });
          expect(sub.status).toBe(200);
          const invoices: InvoiceBody[] = [];
          let sales = 0;
          let anchorNow: number = anchor;
          for (const step of ops) {
            switch (step.op.kind) {
              case 'advance':
                await advance(org, step.op.minutes, invoices);
                break;
              case 'spend': {
                // gpt-4o input at 2.50 per million tokens: 4,000 tokens a cent.
                const res = await t.post('/v1/events', { events: [{ id: `law-${++events}`, timestamp: clock.now().toISOString(), model: 'gpt-4o', usage: { prompt_tokens: step.op.cents * 4000, completion_tokens: 0 } }] }, org.keys.agent);
                expect(res.body.results[0].status).toBe('accepted');
                break;
              }
              case 'grant':
                expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: euros(step.op.cents), validity_days: step.op.days }, org.keys.sales)).status).toBe(201);
                break;
              case 'topup':
                expect((await t.post(`/v1/accounts/${org.account}/credits/topups`, { id: `po-${++sales}`, pack: 'small' }, org.keys.finance)).status).toBe(201);
                break;
              case 'anchor': {
                // Taken until a period is invoiced, refused after (but where it stays as it is).
                const moved = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: plan, billing_anchor_day: step.op.day } });
                expect(moved.status).toBe(invoices.length === 0 || step.op.day === anchorNow ? 200 : 409);
                if (moved.status === 200) anchorNow = step.op.day;
                break;
              }
              case 'version':
                expect((await t.request('PUT', `/v1/plans/${plan}`, { body: terms(step.op.cents) })).status).toBeLessThan(300);
                break;
            }
            if (step.settle) await settle(org);
          }
          // Past the last period's end: settled, closed.
          for (let i = 0; i < 4; i++) await advance(org, 8 * DAY_MINUTES, invoices);
          expect(invoices.length).toBeGreaterThan(0);

          for (const invoice of invoices) {
            const sum = (kind: string) => invoice.lines.filter((l) => l.kind === kind).reduce((s, l) => s + cents(l.amount), 0);
            const ledger = await ledgerOf(org.account, invoice.period_start, invoice.period_end);
            const billed = { period: invoice.period_start, usage: sum('overage') + sum('credits_applied'), credits: -sum('credits_applied') || 0 };
            expect(billed).toEqual({ period: invoice.period_start, usage: ledger.uncovered, credits: ledger.grantsPaid });
          }
        },
      ),
      {
        // The examples count among the runs.
        numRuns: Number(process.env.TM_LAW_RUNS ?? 40),
        examples: [
          // Found by this law (stop 41), shrunk. (Its other find, an allowance of nothing raised in a period's last
          // minute, is an e2e in invoices.e2e-spec.ts.) The anchor moved while the plan's allowance became
          // nothing: the old period's allowance stayed in force and paid for usage its invoice bills.
          [
            0,
            10,
            [
              { op: { kind: 'spend', cents: 1 }, settle: false },
              { op: { kind: 'version', cents: 1 }, settle: false },
              { op: { kind: 'advance', minutes: 60 }, settle: false },
              { op: { kind: 'anchor', day: 1 }, settle: false },
              { op: { kind: 'version', cents: 0 }, settle: false },
            ],
          ],
          // The anchor moved from the 1st to the 28th on 30 March: the period of 28 February to 28 March had
          // ended, and its invoice billed the 10 March usage with that period's allowance (nothing), while the
          // ledger had the allowance of March (an anchor's period no longer) pay for it.
          [
            0,
            1,
            [
              { op: { kind: 'spend', cents: 1 }, settle: false },
              { op: { kind: 'advance', minutes: 28800 }, settle: false },
              { op: { kind: 'version', cents: 1 }, settle: true },
              { op: { kind: 'anchor', day: 28 }, settle: false },
              { op: { kind: 'spend', cents: 1 }, settle: false },
              { op: { kind: 'advance', minutes: 60 }, settle: false },
              { op: { kind: 'version', cents: 0 }, settle: false },
              { op: { kind: 'spend', cents: 1 }, settle: false },
            ],
          ],
          // Found by this law with 800 runs (stop 43, seed 1384973754), shrunk. Anchored on the 15th from 10 March,
          // then on the 1st (the allowance of 15 February to 15 March ended, the 10 March usage booked on March's),
          // then on the 15th again on 30 March: the period of 15 February had ended, and its invoice billed the
          // 10 March usage with its allowance, while the ledger left it uncovered (the allowance stayed ended).
          [
            1,
            1,
            [
              { op: { kind: 'anchor', day: 15 }, settle: false },
              { op: { kind: 'advance', minutes: 60 }, settle: false },
              { op: { kind: 'anchor', day: 1 }, settle: false },
              { op: { kind: 'spend', cents: 1 }, settle: false },
              { op: { kind: 'advance', minutes: 28800 }, settle: false },
              { op: { kind: 'spend', cents: 1 }, settle: false },
              { op: { kind: 'anchor', day: 1 }, settle: false },
              { op: { kind: 'anchor', day: 15 }, settle: false },
              { op: { kind: 'topup' }, settle: false },
            ],
          ],
        ],
      },
    );
  }, 300_000);
});
