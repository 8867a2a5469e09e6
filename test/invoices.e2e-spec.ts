// Invoices end to end, with the injected clock over whole months and period boundaries: events reported
// through POST /v1/events, periods closed by hand and by the jobs, invoices checked by hand against the
// price book below. Prices per 1M tokens: base 0.50 in / 1.50 out, specialized 2.50 / 10.00, premier
// 15.00 / 75.00 (test/support/metering.ts).
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { CreditsSettleService } from '../billing/credits/credits-settle.service.js';
import { InvoicesService } from '../billing/invoices/invoices.service.js';
import { StripeSync } from '../billing/stripe/stripe-sync.service.js';
import { FakeStripe } from './support/fake-stripe.js';
import { setupPricing } from './support/metering.js';
import { newOrg, startTestApp, type TestApp } from './support/test-app.js';

type Org = Awaited<ReturnType<typeof newOrg>>;

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Publishes a new plan, subscribes the account to its latest version, and answers the plan's id. */
async function plan(t: TestApp, org: Org, terms: Record<string, unknown>, options: { anchor?: number; start?: string } = {}): Promise<string> {
  const id = `plan-${randomBytes(3).toString('hex')}`;
  const put = await t.request('PUT', `/v1/plans/${id}`, { body: { currency: 'EUR', overage_policy: 'bill', ...terms } });
  if (put.status >= 300) throw new Error(`plan: ${put.status} ${put.text}`);
  const sub = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, {
    body: { plan_id: id, start_date: options.start ?? '2026-03-01', billing_anchor_day: options.anchor ?? 1 },
  });
  if (sub.status >= 300) throw new Error(`subscription: ${sub.status} ${sub.text}`);
  return id;
}

/** Publishes a new version of a plan at the test clock's time. */
async function publish(t: TestApp, planId: string, terms: Record<string, unknown>): Promise<number> {
  const put = await t.request('PUT', `/v1/plans/${planId}`, { body: { currency: 'EUR', overage_policy: 'bill', ...terms } });
  if (put.status >= 300) throw new Error(`plan version: ${put.status} ${put.text}`);
  return put.body.version;
}

let seq = 0;
function event(ts: string, model: string, usage: Record<string, number>, extra: Record<string, unknown> = {}) {
  return { id: `ev-${++seq}`, timestamp: ts, operation: 'code.edit', channel: 'cli', model, usage, ...extra };
}

async function report(t: TestApp, org: Org, events: Record<string, unknown>[]): Promise<void> {
  const res = await t.request('POST', '/v1/events', { key: org.keys.agent, body: { events } });
  expect(res.status).toBe(200);
  for (const r of res.body.results) expect(r.status).toBe('accepted');
}

const lines = (invoice: { lines: { kind: string; tier: string | null; amount: string }[] }) => invoice.lines.map((l) => [l.kind, l.tier, l.amount]);

describe('Invoices', () => {
  let t: TestApp;
  let clock: ManualClock;
  let db: DataSource;

  beforeAll(async () => {
    clock = new ManualClock('2026-03-10T12:00:00.000Z');
    t = await startTestApp({ clock, env: { TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1' } });
    db = t.app.get(DataSource);
    const first = await newOrg(t);
    await setupPricing(t, first.account);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  async function newBilledOrg(terms: Record<string, unknown>, account: Record<string, unknown> = {}): Promise<Org> {
    const org = await newOrg(t, account);
    await plan(t, org, terms);
    return org;
  }

  /** What the credits.settle job does for the account at the clock's time (grants, burns, expiries). */
  const settle = (org: Org) => t.app.get(CreditsSettleService).settleAccount(org.account, clock.now());

  /** The account's credit grants, once its ledger is checked to sum to zero. */
  async function creditGrants(org: Org): Promise<{ kind: string; remaining: string; expires_at: string | null }[]> {
    const res = await t.get(`/v1/accounts/${org.account}/credits`, org.keys.finance);
    expect(res.status).toBe(200);
    expect(res.body.ledger.reduce((sum: number, l: { amount: string }) => sum + Math.round(Number(l.amount) * 1e6), 0)).toBe(0);
    return res.body.grants;
  }

  /** Closes by hand: 201 when a period was closed now, 200 when the newest invoice is answered (`status`). */
  async function closeNow(org: Org, finalize = true, status: 200 | 201 = 201) {
    const res = await t.post(`/v1/accounts/${org.account}/invoices/close`, { finalize }, org.keys.finance);
    expect(res.status).toBe(status);
    return res.body;
  }

  it('bills a self-serve account in overage across three tiers, after a draft grace period', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '100.00', included_allowance: '50.00' });
    // base 10M in + 10M out = 5 + 15 = 20; specialized 4M + 3M = 10 + 30 = 40; premier 1M + 0.5M = 15 + 37.5 = 52.5.
    await report(t, org, [
      event('2026-03-05T10:00:00Z', 'qwen-turbo', { input: 10_000_000, output: 10_000_000 }),
      event('2026-03-06T10:00:00Z', 'gpt-4o', { input: 4_000_000, output: 3_000_000 }),
      event('2026-03-07T10:00:00Z', 'claude-opus', { input: 1_000_000, output: 500_000 }),
    ]);
    // The preview of the open period says what the close will.
    const preview = await t.get(`/v1/accounts/${org.account}/invoices/upcoming`, org.keys.finance);
    expect(preview.status).toBe(200);
    expect(preview.body.total).toBe('162.50');

    clock.set('2026-04-01T00:10:00.000Z');
    const draft = await closeNow(org, false);
    expect(draft).toMatchObject({ status: 'draft', currency: 'EUR', period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z', grace_until: '2026-04-01T01:10:00.000Z' });
    // Allowance 50 covers base (20) then 30 of specialized: overage 10 specialized, 52.50 premier.
    expect(lines(draft)).toEqual([
      ['base_fee', null, '100.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'specialized', '10.00'],
      ['overage', 'premier', '52.50'],
    ]);
    expect(draft.total).toBe('162.50');
    const premier = draft.lines.find((l: { tier: string | null }) => l.tier === 'premier');
    expect(premier.usage).toEqual([{ tier: 'premier', model: 'claude-opus', label: 'unclassified', calls: 1, tokens: 1_500_000, cost: expect.stringMatching(/^52\.50*$/) }]);

    // An event of March arriving in the grace period is still on this invoice.
    await report(t, org, [event('2026-03-31T23:00:00Z', 'claude-opus', { input: 100_000 })]);
    const invoices = t.app.get(InvoicesService);
    await invoices.finalizeJob({ id: draft.id });
    expect((await t.get(`/v1/invoices/${draft.id}`, org.keys.finance)).body.status).toBe('draft');
    clock.set('2026-04-01T01:10:00.000Z');
    await invoices.finalizeJob({ id: draft.id });
    const final = (await t.get(`/v1/invoices/${draft.id}`, org.keys.finance)).body;
    expect(final.status).toBe('finalized');
    expect(lines(final)).toContainEqual(['overage', 'premier', '54.00']);
    expect(final.total).toBe('164.00');
    expect(final.stripe).toMatchObject({ state: 'skipped' });

    // A period is never closed twice: a second close answers the same invoice, 200 (nothing was made).
    const again = await t.post(`/v1/accounts/${org.account}/invoices/close`, {}, org.keys.finance);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: draft.id, total: '164.00' });
    // A bad page size reads as on every listing.
    for (const [limit, code, says] of [['abc', 'invalid_value', '1 to 100'], ['0', 'invalid_value', '1 to 100'], ['101', 'invalid_value', '1 to 100']]) {
      const bad = await t.get(`/v1/accounts/${org.account}/invoices?limit=${limit}`, org.keys.finance);
      expect([bad.status, bad.body.error?.code, bad.body.error?.field, bad.body.error?.message]).toEqual([400, code, 'limit', expect.stringContaining(says)]);
    }
    const list = await t.get(`/v1/accounts/${org.account}/invoices`, org.keys.finance);
    expect(list.body.data.map((i: { id: string }) => i.id)).toEqual([draft.id]);
    const closed = await db.query('SELECT period_start FROM meter_closed_periods WHERE account_id = $1', [org.account]);
    expect(closed).toHaveLength(1);
  });

  it('waives the base fee of a paid enterprise account inside its allowance', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '1000.00', included_allowance: '500.00' }, { paid_enterprise: true });
    const early = await t.post(`/v1/accounts/${org.account}/invoices/close`, {}, org.keys.finance);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('nothing_to_close');
    await report(t, org, [event('2026-03-09T10:00:00Z', 'gpt-4o', { input: 2_000_000, output: 1_000_000 })]);
    clock.set('2026-04-02T08:00:00.000Z');
    const inv = await closeNow(org);
    expect(inv.status).toBe('finalized');
    expect(lines(inv)).toEqual([
      ['base_fee', null, '0.00'],
      ['allowance_used', null, '0.00'],
    ]);
    expect(inv.lines[0].description).toMatch(/waived for a paid enterprise account/);
    expect(inv.lines[1].detail).toMatchObject({ used: expect.stringMatching(/^15(\.0*)?$/) });
    expect(inv.total).toBe('0.00');
  });

  it('bills a late event of a finalized period as an adjustment on the next invoice, once', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '0' });
    await report(t, org, [event('2026-03-10T10:00:00Z', 'claude-opus', { input: 1_000_000 })]);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([['base_fee', null, '10.00'], ['overage', 'premier', '15.00']]);

    // Late: a March event reported in April, after March was finalized; and an April event.
    clock.set('2026-04-03T09:00:00.000Z');
    await report(t, org, [
      event('2026-03-30T10:00:00Z', 'claude-opus', { input: 100_000 }),
      event('2026-04-02T10:00:00Z', 'qwen-turbo', { input: 1_000_000 }),
    ]);
    const marchAfter = (await t.get(`/v1/invoices/${march.id}`, org.keys.finance)).body;
    expect(marchAfter.total).toBe('25.00');

    clock.set('2026-05-01T00:00:00.000Z');
    const april = await closeNow(org);
    expect(lines(april)).toEqual([
      ['base_fee', null, '10.00'],
      ['overage', 'base', '0.50'],
      ['adjustment', 'premier', '1.50'],
    ]);
    expect(april.lines[2]).toMatchObject({ period_start: '2026-03-01T00:00:00.000Z', charge: 'overage:premier' });
    expect(april.lines[2].usage).toEqual([{ tier: 'premier', model: 'claude-opus', label: 'unclassified', calls: 1, tokens: 100_000, cost: expect.stringMatching(/^1\.50*$/) }]);
    expect(april.total).toBe('12.00');

    // Every event on exactly one invoice: the usage of all invoices adds up to the events, none twice.
    const billed = await db.query(
      `SELECT sum(calls)::int AS calls, sum(cost)::numeric(20,6)::text AS cost FROM invoice_usage WHERE account_id = $1`,
      [org.account],
    );
    const events = await db.query(`SELECT count(*)::int AS calls, sum(cost)::numeric(20,6)::text AS cost FROM events WHERE account_id = $1`, [org.account]);
    expect(billed[0]).toEqual(events[0]);
    // The May preview has no adjustment left to make.
    const preview = (await t.get(`/v1/accounts/${org.account}/invoices/upcoming`, org.keys.finance)).body;
    expect(preview.lines.filter((l: { kind: string }) => l.kind === 'adjustment')).toEqual([]);
  });

  it('bills a period on the plan version in force at its end, not on one published before its close', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '0' });
    await report(t, org, [event('2026-03-09T10:00:00Z', 'claude-opus', { input: 1_000_000 })]);
    // Published during March: March is billed on it.
    clock.set('2026-03-20T09:00:00.000Z');
    expect(await publish(t, planId, { base_fee: '20.00', included_allowance: '0' })).toBe(2);
    // Published at the first instant of April and after March ended, before March is closed: April's terms.
    clock.set('2026-04-01T00:00:00.000Z');
    expect(await publish(t, planId, { base_fee: '30.00', included_allowance: '0' })).toBe(3);
    clock.set('2026-04-01T00:05:00.000Z');
    expect(await publish(t, planId, { base_fee: '40.00', included_allowance: '0' })).toBe(4);

    // The close job bills March on version 2; the close by hand answers that invoice, finalized.
    clock.set('2026-04-01T00:30:00.000Z');
    await t.app.get(InvoicesService).closeJob({ account: org.account, period_start: '2026-03-01T00:00:00.000Z' });
    const march = await closeNow(org, true, 200);
    expect(march).toMatchObject({ period_start: '2026-03-01T00:00:00.000Z', plan_version: 2, status: 'finalized' });
    expect(lines(march)).toEqual([['base_fee', null, '20.00'], ['overage', 'premier', '15.00']]);

    // A late March event is adjusted on March's own terms; April is billed on the version in force at its end.
    clock.set('2026-04-10T00:00:00.000Z');
    await report(t, org, [event('2026-03-30T10:00:00Z', 'claude-opus', { input: 100_000 })]);
    clock.set('2026-05-02T00:00:00.000Z');
    const april = await closeNow(org);
    expect(april).toMatchObject({ period_start: '2026-04-01T00:00:00.000Z', plan_version: 4 });
    expect(lines(april)).toEqual([['base_fee', null, '40.00'], ['adjustment', 'premier', '1.50']]);
  });

  it('rounds exact half-cent midpoints half-even, once per line', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '0', included_allowance: '0', invoice_grace_minutes: 30 });
    // base input 0.50 per 1M: 250,000 tokens cost exactly 0.125; specialized input 2.50 per 1M: 54,000 cost 0.135.
    await report(t, org, [
      event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 250_000 }),
      event('2026-03-10T10:01:00Z', 'gpt-4o', { input: 54_000 }),
    ]);
    clock.set('2026-04-01T00:00:00.000Z');
    // This plan's grace period is 30 minutes; finance finalizes the draft early by hand.
    const draft = await closeNow(org, false);
    expect(draft).toMatchObject({ status: 'draft', grace_until: '2026-04-01T00:30:00.000Z' });
    const finalized = await t.post(`/v1/invoices/${draft.id}/finalize`, {}, org.keys.finance);
    expect(finalized.status).toBe(200);
    const inv = finalized.body;
    expect(inv.status).toBe('finalized');
    expect(lines(inv)).toEqual([
      ['base_fee', null, '0.00'],
      ['overage', 'base', '0.12'],
      ['overage', 'specialized', '0.14'],
    ]);
    expect(inv.total).toBe('0.26');
  });

  it('bills a JPY account in whole yen, and credits ineffective spend', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t, { currency: 'JPY' });
    await plan(t, org, { currency: 'JPY', base_fee: '5000', included_allowance: '0', ineffective_credit_pct: '50' });
    // premier input 15 per 1M: 1,100,000 tokens cost 16.5 yen (half-even: 16); a failed call of 100,000 cost 1.5, half credited: 0.75 -> 1.
    await report(t, org, [
      event('2026-03-10T10:00:00Z', 'claude-opus', { input: 1_100_000 }),
      event('2026-03-10T10:02:00Z', 'claude-opus', { input: 100_000 }, { outcome: 'failure' }),
    ]);
    clock.set('2026-04-01T00:00:00.000Z');
    const inv = await closeNow(org);
    expect(lines(inv)).toEqual([
      ['base_fee', null, '5000'],
      ['overage', 'premier', '18'],
      ['ineffective_credit', null, '-1'],
    ]);
    expect(inv.total).toBe('5017');
    // Booked in the ledger too: a grant of the credit's size.
    const grants = await db.query(`SELECT kind, amount::text AS amount FROM credit_grants WHERE account_id = $1`, [org.account]);
    expect(grants).toEqual([{ kind: 'ineffective_credit', amount: expect.stringMatching(/^1(\.0*)?$/) }]);

    const csv = await t.request('GET', `/v1/invoices/${inv.id}`, { key: org.keys.finance, headers: { accept: 'text/csv' } });
    expect(csv.status).toBe(200);
    expect(csv.text.split('\r\n')[0]).toBe('invoice,number,record,n,kind,period_start,description,tier,model,label,calls,tokens,amount,currency');
    expect(csv.text).toContain(',total,,,2026-03-01T00:00:00.000Z,Total,,,,,,5017,JPY');
    const html = await t.request('GET', `/v1/invoices/${inv.id}?format=html`, { key: org.keys.finance });
    expect(html.status).toBe(200);
    expect(String(html.headers['content-type'])).toMatch(/^text\/html/);
    expect(html.text).toContain('<td>Total</td><td class="n">5017 JPY</td>');
  });

  it('emits invoice.finalized and invoice.paid, voids with credits restored, and keeps accounts apart', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '20.00', included_allowance: '0' });
    const endpoint = await t.post('/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hook' }, org.keys.finance);
    expect(endpoint.status).toBe(201);
    clock.set('2026-04-01T00:00:00.000Z');
    const inv = await closeNow(org);
    const other = await newOrg(t);
    expect((await t.get(`/v1/invoices/${inv.id}`, other.keys.finance)).status).toBe(404);
    expect((await t.get(`/v1/accounts/${org.account}/invoices`, other.keys.finance)).status).toBe(404);

    const paid = await t.post(`/v1/invoices/${inv.id}/pay`, {}, t.adminKey);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', amount_paid: '20.00' });
    const types = await db.query(`SELECT type FROM webhook_events WHERE account_id = $1 ORDER BY created_at, type`, [org.account]);
    expect(types.map((r: { type: string }) => r.type).sort()).toEqual(['invoice.finalized', 'invoice.paid']);
    // A paid invoice cannot be voided.
    const refused = await t.post(`/v1/invoices/${inv.id}/void`, { reason: 'late' }, t.adminKey);
    expect(refused.status).toBe(409);

    clock.set('2026-05-01T00:00:00.000Z');
    const may = await closeNow(org);
    const voided = await t.post(`/v1/invoices/${may.id}/void`, { reason: 'issued by mistake' }, t.adminKey);
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ status: 'void', void_reason: 'issued by mistake' });
    const restores = await db.query(`SELECT invoice_id FROM credit_invoice_restores WHERE account_id = $1`, [org.account]);
    expect(restores).toEqual([{ invoice_id: may.id }]);
  });

  it('audits closing, finalizing, paying and voiding by hand: who, and the status and money before and after', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '20.00', included_allowance: '0' });
    const keyId = async (key: string): Promise<string> => (await t.get('/v1/api-keys/current', key)).body.id;
    const trail = async () => {
      const res = await t.get(`/v1/audit?account=${org.account}&entity_type=invoice`, t.adminKey);
      expect(res.status).toBe(200);
      expect(res.body.verification).toMatchObject({ valid: true });
      type Row = { action: string; entity_id: string; actor_key_id: string; actor_role: string; before: unknown; after: unknown };
      return res.body.data as Row[];
    };
    const audited = async () => (await trail()).filter((r) => ['invoice.finalize', 'invoice.pay', 'invoice.void'].includes(r.action));
    const closes = async () => (await trail()).filter((r) => r.action === 'invoice.close');
    const money = (status: string, total: string, more: Record<string, unknown> = {}) => ({ status, currency: 'EUR', total, amount_paid: null, void_reason: null, ...more });

    clock.set('2026-04-01T00:10:00.000Z');
    const draft = await closeNow(org, false);
    // The close made the draft: audited with no invoice before it.
    expect(await closes()).toEqual([
      expect.objectContaining({
        action: 'invoice.close',
        entity_id: draft.id,
        actor_key_id: await keyId(org.keys.finance),
        actor_role: 'finance',
        before: null,
        after: { number: draft.number, period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z', ...money('draft', '20.00') },
      }),
    ]);
    // Closing again when nothing ended since answers the draft and records nothing.
    await closeNow(org, false, 200);
    expect(await closes()).toHaveLength(1);
    // A close with finalize when nothing ended since finalizes the draft: audited as a finalize, below.
    const finalized = await t.post(`/v1/accounts/${org.account}/invoices/close`, { finalize: true }, org.keys.finance);
    expect(finalized.status).toBe(200);
    expect(finalized.body.status).toBe('finalized');
    expect(await audited()).toEqual([
      expect.objectContaining({
        action: 'invoice.finalize',
        entity_id: draft.id,
        actor_key_id: await keyId(org.keys.finance),
        actor_role: 'finance',
        before: { number: draft.number, period_start: '2026-03-01T00:00:00.000Z', period_end: '2026-04-01T00:00:00.000Z', ...money('draft', '20.00') },
        after: expect.objectContaining(money('finalized', '20.00')),
      }),
    ]);
    // Finalizing it again answers it as it is and changes nothing: no second row.
    expect((await t.post(`/v1/invoices/${draft.id}/finalize`, {}, org.keys.finance)).status).toBe(200);
    expect(await audited()).toHaveLength(1);

    const paid = await t.post(`/v1/invoices/${draft.id}/pay`, {}, org.keys.sales);
    expect(paid.status).toBe(200);
    expect((await audited()).slice(1)).toEqual([
      expect.objectContaining({
        action: 'invoice.pay',
        entity_id: draft.id,
        actor_key_id: await keyId(org.keys.sales),
        actor_role: 'sales',
        before: expect.objectContaining(money('finalized', '20.00')),
        after: expect.objectContaining(money('paid', '20.00', { amount_paid: '20.00' })),
      }),
    ]);
    // Paid again (nothing changes) or refused (a paid invoice cannot be voided): nothing is recorded.
    expect((await t.post(`/v1/invoices/${draft.id}/pay`, {}, org.keys.sales)).status).toBe(200);
    expect((await t.post(`/v1/invoices/${draft.id}/void`, { reason: 'late' }, t.adminKey)).status).toBe(409);
    expect(await audited()).toHaveLength(2);

    clock.set('2026-05-01T00:00:00.000Z');
    const may = await closeNow(org);
    expect((await closes())[1]).toMatchObject({ entity_id: may.id, before: null, after: money('finalized', '20.00') });
    const voided = await t.post(`/v1/invoices/${may.id}/void`, { reason: 'issued by mistake' }, t.adminKey);
    expect(voided.status).toBe(200);
    expect((await t.post(`/v1/invoices/${may.id}/void`, { reason: 'again' }, t.adminKey)).status).toBe(200);
    expect((await audited()).slice(2)).toEqual([
      expect.objectContaining({
        action: 'invoice.void',
        entity_id: may.id,
        actor_key_id: await keyId(t.adminKey),
        actor_role: 'admin',
        before: expect.objectContaining(money('finalized', '20.00')),
        after: expect.objectContaining(money('void', '20.00', { void_reason: 'issued by mistake' })),
      }),
    ]);
  });

  it('counts the ineffective-spend credit once: on the invoice, booked in the ledger, never burned again', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '10.00', ineffective_credit_pct: '50' });
    const credits = async () => (await t.get(`/v1/accounts/${org.account}/credits`, org.keys.finance)).body;
    const ledger = (c: { ledger: { ledger_account: string; amount: string }[] }) => Object.fromEntries(c.ledger.map((l) => [l.ledger_account, l.amount]));
    // specialized input 2.50 per 1M: a failed call of 800,000 tokens costs 2.00 (ineffective), a good one of 1.2M 3.00.
    await report(t, org, [
      event('2026-03-10T10:00:00Z', 'gpt-4o', { input: 800_000 }, { outcome: 'failure' }),
      event('2026-03-10T10:05:00Z', 'gpt-4o', { input: 1_200_000 }),
    ]);
    await settle(org);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    // 5.00 of usage inside the 10.00 allowance; half the 2.00 spent ineffectively is credited.
    expect(lines(march)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['ineffective_credit', null, '-1.00'],
    ]);
    expect(march.total).toBe('9.00');
    await settle(org); // April's allowance; March's left expires
    let c = await credits();
    // The credit is booked against the invoice (issued and applied at once), not as credit usage can burn.
    expect(c.balance).toBe('10');
    expect(ledger(c)).toMatchObject({ invoiced: '1', 'issued:ineffective_credit': '-1', usage: '5' });
    const applied = c.entries.filter((m: { invoice_id: string | null }) => m.invoice_id === march.id);
    expect(applied.map((m: { kind: string; amount: string }) => [m.kind, m.amount]).sort()).toEqual([['apply', '1'], ['grant', '1']]);
    expect(c.grants.some((g: { kind: string }) => g.kind === 'ineffective_credit')).toBe(false);

    // April: 10.50 of usage. The allowance pays 10.00; the 0.50 beyond it is not paid by the credit a second time.
    clock.set('2026-04-10T12:00:00.000Z');
    await report(t, org, [event('2026-04-10T10:00:00Z', 'gpt-4o', { input: 4_200_000 })]);
    await settle(org);
    c = await credits();
    expect(c.balance).toBe('0');
    expect(ledger(c)).toMatchObject({ invoiced: '1', usage: '15' });
    const [{ uncovered }] = await db.query(`SELECT sum(uncovered)::text AS uncovered FROM credit_usage_days WHERE account_id = $1 AND day >= '2026-04-01'`, [org.account]);
    expect(Number(uncovered)).toBe(0.5);
    clock.set('2026-05-01T00:00:00.000Z');
    const april = await closeNow(org);
    expect(lines(april)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'specialized', '0.50'],
    ]);

    // Voiding March takes its credit back out of the ledger: what is credited is what non-void invoices say.
    const voided = await t.post(`/v1/invoices/${march.id}/void`, { reason: 'reissued' }, t.adminKey);
    expect(voided.status).toBe(200);
    c = await credits();
    expect(ledger(c)).toMatchObject({ invoiced: '0', 'issued:ineffective_credit': '0' });
    expect(c.balance).toBe('0');
    expect(c.ledger.reduce((s: number, l: { amount: string }) => s + Math.round(Number(l.amount) * 1e6), 0)).toBe(0);
    for (const m of c.entries) expect(m.entries.reduce((s: number, e: { amount: string }) => s + Math.round(Number(e.amount) * 1e6), 0)).toBe(0);
  });

  it('credits a task relabelled ineffective after its period was finalized on the next invoice', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '0', ineffective_credit_pct: '50' });
    // An open task: its failed attempt is pending at close (specialized input 2.50 per 1M: 1M cost 2.50).
    await report(t, org, [event('2026-03-09T10:00:00Z', 'gpt-4o', { input: 1_000_000 }, { task_id: 'deploy', attempt_id: 'a1', outcome: 'failure' })]);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([['base_fee', null, '10.00'], ['overage', 'specialized', '2.50']]);

    // In April the task fails for good: its attempt is relabelled ineffective, in March.
    clock.set('2026-04-05T00:00:00.000Z');
    const closed = await t.post('/v1/tasks/deploy/close', { status: 'failed' }, org.keys.agent);
    expect(closed.status).toBeLessThan(300);
    clock.set('2026-05-01T00:00:00.000Z');
    const april = await closeNow(org);
    expect(lines(april)).toEqual([['base_fee', null, '10.00'], ['adjustment', null, '-1.25']]);
    expect(april.lines[1]).toMatchObject({ charge: 'ineffective_credit', period_start: '2026-03-01T00:00:00.000Z' });
    // The usage moved between labels: minus pending, plus ineffective, in March; no token billed twice.
    expect(april.usage.map((u: { label: string; calls: number; cost: string }) => [u.label, u.calls, Number(u.cost)])).toEqual([
      ['ineffective', 1, 2.5],
      ['pending', -1, -2.5],
    ]);
    expect(april.lines[1].usage).toEqual([{ tier: 'specialized', model: 'gpt-4o', label: 'ineffective', calls: 1, tokens: 1_000_000, cost: expect.stringMatching(/^2\.50*$/) }]);
    // Booked in the ledger: a grant of the further credit.
    const grants = await db.query(`SELECT kind, amount::text AS amount FROM credit_grants WHERE account_id = $1`, [org.account]);
    expect(grants).toEqual([{ kind: 'adjustment', amount: expect.stringMatching(/^1\.250*$/) }]);
  });

  it('takes what a promotional grant and a top-up paid for off a billed overage, and adjusts it after a late event', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({
      base_fee: '10.00',
      included_allowance: '5.00',
      topup_packs: [{ id: 'small', allowance: '4.00', price: '3.50', validity_days: 60 }],
    });
    await settle(org); // March's allowance
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '2.50', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    expect((await t.post(`/v1/accounts/${org.account}/credits/topups`, { id: 'march-1', pack: 'small' }, org.keys.finance)).status).toBe(201);
    // base input 0.50 per 1M: 30M tokens cost 15.00: 5.00 allowance, 2.50 promotional, 4.00 top-up, 3.50 uncovered.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 30_000_000 })]);
    await settle(org);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'base', '10.00'],
      ['topup', null, '3.50'],
      ['credits_applied', null, '-6.50'],
    ]);
    // The base fee, the top-up's price and the 3.50 no grant covered: nothing a grant paid for is billed again.
    expect(march.total).toBe('17.00');
    expect(march.lines[4]).toMatchObject({ charge: 'credits_applied', usage: [] });
    const [{ uncovered }] = await db.query(`SELECT sum(uncovered)::text AS uncovered FROM credit_usage_days WHERE account_id = $1`, [org.account]);
    expect(Number(uncovered)).toBe(3.5);

    // A late March event of 2.00: the top-up has nothing left, so the overage grows by 2.00 and the credits applied do not.
    clock.set('2026-04-02T00:00:00.000Z');
    await report(t, org, [event('2026-03-31T10:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    await settle(org);
    clock.set('2026-05-01T00:00:00.000Z');
    await settle(org);
    const april = await closeNow(org);
    expect(lines(april).filter(([kind]) => kind === 'adjustment')).toEqual([['adjustment', 'base', '2.00']]);
  });

  it('follows a plan version published mid-period: the ledger books the period on the allowance the invoice bills, so grants pay only beyond it', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '5.00' });
    await settle(org);
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '10.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    const grants = async () => {
      const res = await t.get(`/v1/accounts/${org.account}/credits`, org.keys.finance);
      expect(res.status).toBe(200);
      return res.body;
    };
    const held = async () => (await grants()).grants.map((g: { kind: string; amount: string; remaining: string }) => [g.kind, g.amount, g.remaining]);
    // base input 0.50 per 1M: 16M tokens cost 8.00: 5.00 allowance, 3.00 promotional.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 16_000_000 })]);
    await settle(org);
    expect(await held()).toEqual([['allowance', '5', '0'], ['promotional', '10', '7']]);

    // A larger allowance from the 12th: the period's 8.00 is booked again, all of it on the allowance.
    clock.set('2026-03-12T09:00:00.000Z');
    await publish(t, planId, { base_fee: '10.00', included_allowance: '10.00' });
    expect(await settle(org)).toMatchObject({ allowanceChanged: '10' });
    expect(await held()).toEqual([['allowance', '10', '2'], ['promotional', '10', '10']]);
    const entries = (await grants()).entries as { kind: string; amount: string; memo: string | null }[];
    expect(entries.find((e) => e.kind === 'adjustment')).toMatchObject({ amount: '5', memo: 'Included allowance changed from 5 to 10' });
    // A run with the terms unchanged books nothing more.
    const count = entries.length;
    expect(await settle(org)).toMatchObject({ allowanceChanged: null });
    expect((await grants()).entries).toHaveLength(count);

    // 6.00 more on the 20th, then a smaller allowance from the 25th: 14.00 in all, 3.00 on the allowance,
    // 10.00 on the promotional grant, 1.00 uncovered.
    clock.set('2026-03-20T12:00:00.000Z');
    await report(t, org, [event('2026-03-20T10:00:00Z', 'qwen-turbo', { input: 12_000_000 })]);
    await settle(org);
    expect(await held()).toEqual([['allowance', '10', '0'], ['promotional', '10', '6']]);
    clock.set('2026-03-25T12:00:00.000Z');
    await publish(t, planId, { base_fee: '10.00', included_allowance: '3.00' });
    await settle(org);
    expect(await held()).toEqual([['allowance', '3', '0'], ['promotional', '10', '0']]);
    const [{ uncovered }] = await db.query(`SELECT sum(uncovered)::text AS uncovered FROM credit_usage_days WHERE account_id = $1`, [org.account]);
    expect(Number(uncovered)).toBe(1);
    const sums = (await grants()).ledger.reduce((sum: number, l: { amount: string }) => sum + Math.round(Number(l.amount) * 1e6), 0);
    expect(sums).toBe(0);

    // March is billed on the terms in force at its end (3.00 included): what the promotional grant paid of the
    // 11.00 overage is taken off, and the 1.00 no grant covered is billed.
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'base', '11.00'],
      ['credits_applied', null, '-10.00'],
    ]);
    expect(march.total).toBe('11.00');
  });

  it.each([
    ['running', false],
    ['cancelled at that period\'s end', true],
  ])('follows a plan version published in the period\'s last minute, after the job\'s last run in it: the first run after the period books it on the allowance its invoice bills (subscription %s)', async (_, cancelled) => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '5.00' });
    // Cancelled, the account has no plan from 1 April, but March is billed, on the terms at its end.
    if (cancelled) expect((await t.request('DELETE', `/v1/accounts/${org.account}/subscription`, { key: org.keys.sales })).body).toMatchObject({ ends_at: '2026-04-01T00:00:00.000Z' });
    await settle(org);
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '10.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    const credits = async () => {
      const res = await t.get(`/v1/accounts/${org.account}/credits`, org.keys.finance);
      expect(res.status).toBe(200);
      return res.body;
    };
    // 8.00 of usage: 5.00 on the allowance, 3.00 on the promotional grant.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 16_000_000 })]);
    await settle(org);
    clock.set('2026-03-31T23:59:00.000Z');
    await settle(org);
    // Published 30 s before the period ends, after the job's last run in it: March is billed on 10.00 included.
    clock.set('2026-03-31T23:59:30.000Z');
    await publish(t, planId, { base_fee: '10.00', included_allowance: '10.00' });
    clock.set('2026-04-01T00:00:30.000Z');
    expect(await settle(org)).toMatchObject({ allowanceGranted: cancelled ? null : '10.00', endingAllowanceChanged: '10', allowanceChanged: null, expired: '2' });
    const c = await credits();
    // March's allowance was raised to 10.00 and paid all 8.00; what it had left (2.00) expired with it.
    const [march] = await db.query(`SELECT amount::text AS amount, expired_at FROM credit_grants WHERE account_id = $1 AND kind = 'allowance' AND period_start = '2026-03-01'`, [org.account]);
    expect([Number(march.amount), new Date(march.expired_at).toISOString()]).toEqual([10, '2026-04-01T00:00:30.000Z']);
    // The promotional grant got its 3.00 back; April's allowance (when subscribed) is on the new version.
    expect(c.grants.map((g: { kind: string; amount: string; remaining: string }) => [g.kind, g.amount, g.remaining])).toEqual([
      ...(cancelled ? [] : [['allowance', '10', '10']]),
      ['promotional', '10', '10'],
    ]);
    expect(c.entries.find((e: { kind: string }) => e.kind === 'adjustment')).toMatchObject({ amount: '5', memo: 'Included allowance changed from 5 to 10' });
    expect(c.ledger.reduce((sum: number, l: { amount: string }) => sum + Math.round(Number(l.amount) * 1e6), 0)).toBe(0);
    // The next run finds the period's grant expired: nothing more to follow.
    expect(await settle(org)).toMatchObject({ endingAllowanceChanged: null, burned: '0' });

    // The invoice agrees: all of March's usage is included, no credits were applied.
    const invoice = await closeNow(org);
    expect(lines(invoice).map(([kind]) => kind)).not.toContain('credits_applied');
    expect(invoice.total).toBe('10.00');
  });

  it('follows an allowance of nothing raised in the period\'s last minute, after the job\'s last run in it: the first run after grants the period its allowance, and the grant that paid gets its usage back', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '0' });
    await settle(org);
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '10.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    const held = async () => (await creditGrants(org)).map((g) => [g.kind, g.remaining]);
    // 4.00 on the 10th: no allowance, so the promotional grant pays.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 8_000_000 })]);
    await settle(org);
    expect(await held()).toEqual([['promotional', '6']]);
    clock.set('2026-03-31T23:59:00.000Z');
    await settle(org);
    // 5.00 included from 30 s before March ends, after the job's last run in it: March is billed with it.
    clock.set('2026-03-31T23:59:30.000Z');
    await publish(t, planId, { base_fee: '10.00', included_allowance: '5.00' });
    clock.set('2026-04-01T00:00:30.000Z');
    expect(await settle(org)).toMatchObject({ allowanceGranted: '5.00', endingAllowanceChanged: '5' });
    // March's allowance paid the 4.00 and expired with the 1.00 left; the promotional grant has its 4.00 back.
    const [march] = await db.query(`SELECT amount::text AS amount, expired_at FROM credit_grants WHERE account_id = $1 AND kind = 'allowance' AND period_start = '2026-03-01'`, [org.account]);
    expect([Number(march.amount), new Date(march.expired_at).toISOString()]).toEqual([5, '2026-04-01T00:00:30.000Z']);
    expect(await held()).toEqual([['allowance', '5'], ['promotional', '10']]);
    // A run later finds nothing more to follow.
    expect(await settle(org)).toMatchObject({ allowanceGranted: null, endingAllowanceChanged: null, burned: '0' });

    // The invoice agrees: March's usage is all included, no credits were applied.
    const invoice = await closeNow(org);
    expect(lines(invoice).map(([kind]) => kind)).not.toContain('credits_applied');
    expect(invoice.total).toBe('10.00');
  });

  it('refuses to move the billing anchor once a period is invoiced (its periods would bill usage twice), and allows it before', async () => {
    clock.set('2026-03-20T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '0' });
    const subscription = async () => (await t.get(`/v1/accounts/${org.account}/subscription`, org.keys.finance)).body;
    const put = (body: Record<string, unknown>) => t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: planId, ...body } });
    // Before any invoice the anchor may move, and back.
    expect((await put({ billing_anchor_day: 15 })).body).toMatchObject({ billing_anchor_day: 15 });
    expect((await put({ billing_anchor_day: 1 })).body).toMatchObject({ billing_anchor_day: 1 });
    // base input 0.50 per 1M: 4M tokens cost 2.00 on 20 March.
    await report(t, org, [event('2026-03-20T10:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(march.total).toBe('12.00');

    // Anchored on the 15th, the next period would be 15 March to 15 April: the usage of 20 March again.
    clock.set('2026-04-05T09:00:00.000Z');
    const before = await subscription();
    const refused = await put({ billing_anchor_day: 15 });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'billing_anchor_fixed', field: 'billing_anchor_day', billing_anchor_day: 1, invoiced_until: '2026-04-01T00:00:00.000Z' });
    expect(refused.body.error.message).toContain('invoiced until 2026-04-01');
    expect(await subscription()).toEqual(before);
    // A change that keeps the anchor (or leaves it out) is taken.
    expect((await put({ billing_anchor_day: 1, overrides: { included_allowance: '1.00' } })).body).toMatchObject({ billing_anchor_day: 1, overrides: { included_allowance: '1.00' } });
    expect((await put({})).body).toMatchObject({ billing_anchor_day: 1 });

    // Nothing overlapping is closed: at 15 April no period has ended since March's.
    clock.set('2026-04-15T01:00:00.000Z');
    expect((await closeNow(org, true, 200)).id).toBe(march.id);
  });

  it('moves the billing anchor mid-period before any invoice: the period\'s usage the old allowance paid is booked again on the new one, so grants pay what the invoice counts as overage', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '5.00' }, { start: '2026-03-10', anchor: 10 });
    await settle(org);
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '10.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    const held = async () => (await creditGrants(org)).map((g) => [g.kind, g.remaining, g.expires_at]);
    // base input 0.50 per 1M: 16M tokens cost 8.00 on the 10th: 5.00 on the allowance of 10 March to 10 April, 3.00 promotional.
    await report(t, org, [event('2026-03-10T11:00:00Z', 'qwen-turbo', { input: 16_000_000 })]);
    await settle(org);
    expect(await held()).toEqual([['allowance', '0', '2026-04-10T00:00:00.000Z'], ['promotional', '7', null]]);

    // Anchored on the 1st from the 12th: the period is 1 March to 1 April, its allowance 5.00, and the 8.00
    // of the 10th is that period's usage: booked again on it, the allowance of the 10th ended.
    clock.set('2026-03-12T09:00:00.000Z');
    expect((await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: planId, billing_anchor_day: 1 } })).status).toBe(200);
    expect(await settle(org)).toMatchObject({ allowanceGranted: '5.00', allowancesReleased: 1 });
    expect(await held()).toEqual([['allowance', '0', '2026-04-01T00:00:00.000Z'], ['promotional', '7', null]]);
    // 4.00 more on the 12th: beyond the period's allowance, so the promotional grant pays it.
    await report(t, org, [event('2026-03-12T08:00:00Z', 'qwen-turbo', { input: 8_000_000 })]);
    await settle(org);
    expect(await held()).toEqual([['allowance', '0', '2026-04-01T00:00:00.000Z'], ['promotional', '3', null]]);

    // March: 12.00 of usage, 5.00 included, 7.00 overage, all of it paid by the promotional grant.
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([
      ['base_fee', null, '10.00'],
      ['allowance_used', null, '0.00'],
      ['overage', 'base', '7.00'],
      ['credits_applied', null, '-7.00'],
    ]);
    expect(march.total).toBe('10.00');
  });

  it('bills a cancelled subscription to the end of the period it was cancelled in, nothing after; subscribed again, from then on', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newOrg(t);
    const planId = await plan(t, org, { base_fee: '10.00', included_allowance: '5.00' });
    await settle(org);
    // base input 0.50 per 1M: 4M tokens cost 2.00, within the allowance.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    const subscription = async () => (await t.get(`/v1/accounts/${org.account}/subscription`, org.keys.finance)).body;
    const cancel = () => t.request('DELETE', `/v1/accounts/${org.account}/subscription`, { key: org.keys.sales });
    const audited = async () => {
      const res = await t.get(`/v1/audit?account=${org.account}&entity_type=subscription`, t.adminKey);
      expect(res.status).toBe(200);
      return (res.body.data as { action: string; before: { ends_at: string | null }; after: { ends_at: string | null } }[]).filter((r) => r.action === 'subscription.cancel');
    };

    // Cancelled on the 20th: it ends with the period, on 1 April. Again: nothing changes, once audited. It
    // takes no options: asked to end now, it says so and changes nothing.
    clock.set('2026-03-20T09:00:00.000Z');
    const now = await t.request('DELETE', `/v1/accounts/${org.account}/subscription`, { key: org.keys.sales, body: { at: 'now' } });
    expect(now.status).toBe(400);
    expect(now.body.error).toMatchObject({ code: 'unknown_field', field: 'at' });
    expect((await subscription()).ends_at).toBeNull();
    const cancelled = await cancel();
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ plan_id: planId, ends_at: '2026-04-01T00:00:00.000Z' });
    clock.set('2026-03-20T09:05:00.000Z');
    expect((await cancel()).body).toEqual(cancelled.body);
    expect(await audited()).toEqual([expect.objectContaining({ before: expect.objectContaining({ ends_at: null }), after: expect.objectContaining({ ends_at: '2026-04-01T00:00:00.000Z' }) })]);
    expect((await t.request('DELETE', `/v1/accounts/${org.account}/subscription`, { key: org.keys.finance })).status).toBe(403);
    // Until it ends, it runs: the reading still counts the allowance (ingest reads the subscription again
    // within a second; the cancellation is in that read).
    await new Promise((r) => setTimeout(r, 1100));
    const before = await t.post('/v1/events', { events: [event('2026-03-20T08:00:00Z', 'qwen-turbo', { input: 2_000_000 })] }, org.keys.agent);
    expect(before.body.results[0].reading.allowance_left).toMatch(/^2(\.0+)?$/);

    // March is billed in full; from 1 April the account has no plan: no allowance, no preview, no April invoice.
    clock.set('2026-04-01T00:30:00.000Z');
    const march = await closeNow(org);
    expect(march).toMatchObject({ period_start: '2026-03-01T00:00:00.000Z', total: '10.00' });
    expect(await settle(org)).toMatchObject({ allowanceGranted: null });
    const april = await t.post('/v1/events', { events: [event('2026-04-01T00:10:00Z', 'qwen-turbo', { input: 2_000_000 })] }, org.keys.agent);
    expect(april.body.results[0]).toMatchObject({ status: 'accepted', reading: { allowance_left: null } });
    expect((await t.get(`/v1/accounts/${org.account}/invoices/upcoming`, org.keys.finance)).body.error).toMatchObject({
      code: 'no_subscription',
      message: `Account "${org.account}"'s subscription ended on 2026-04-01: no period is open.`,
    });
    clock.set('2026-05-01T01:00:00.000Z');
    await t.app.get(InvoicesService).schedule();
    expect((await closeNow(org, true, 200)).id).toBe(march.id);
    expect((await subscription()).ends_at).toBe('2026-04-01T00:00:00.000Z');

    // Subscribed again on 10 May: from that period on, the month in between never billed.
    clock.set('2026-05-10T08:00:00.000Z');
    const again = await t.request('PUT', `/v1/accounts/${org.account}/subscription`, { body: { plan_id: planId } });
    expect(again.body).toMatchObject({ ends_at: null, start_date: '2026-05-10', billing_anchor_day: 1 });
    clock.set('2026-06-01T00:30:00.000Z');
    const may = await closeNow(org);
    expect(may).toMatchObject({ period_start: '2026-05-01T00:00:00.000Z', total: '10.00' });
    const all = await t.get(`/v1/accounts/${org.account}/invoices`, org.keys.finance);
    expect(all.body.data.map((i: { period_start: string }) => i.period_start)).toEqual(['2026-05-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  });

  it('adjusts the credits applied to an earlier period when a late event of it burns a grant', async () => {
    clock.set('2026-03-05T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '0' });
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '5.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    // base input 0.50 per 1M: 4M tokens cost 2.00, paid by the grant.
    await report(t, org, [event('2026-03-05T11:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    await settle(org);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([['base_fee', null, '10.00'], ['overage', 'base', '2.00'], ['credits_applied', null, '-2.00']]);
    // A late March event of 4.00: the grant's 3.00 left pays for most of it, 1.00 is billed.
    clock.set('2026-04-02T00:00:00.000Z');
    await report(t, org, [event('2026-03-30T10:00:00Z', 'qwen-turbo', { input: 8_000_000 })]);
    await settle(org);
    clock.set('2026-05-01T00:00:00.000Z');
    const april = await closeNow(org);
    expect(lines(april)).toEqual([
      ['base_fee', null, '10.00'],
      ['adjustment', 'base', '4.00'],
      ['adjustment', null, '-3.00'],
    ]);
    expect(april.lines[2]).toMatchObject({ charge: 'credits_applied', period_start: '2026-03-01T00:00:00.000Z' });
    expect(april.total).toBe('11.00');
  });

  it('does not take back the credits a voided invoice restored when a late event of its period burns a grant', async () => {
    clock.set('2026-03-05T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '0' });
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '5.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    const remaining = async () => (await t.get(`/v1/accounts/${org.account}/credits`, org.keys.finance)).body.grants.map((g: { remaining: string }) => g.remaining);
    // base input 0.50 per 1M: 4M tokens cost 2.00, paid by the grant.
    await report(t, org, [event('2026-03-05T11:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    await settle(org);
    clock.set('2026-04-01T00:00:00.000Z');
    const march = await closeNow(org);
    expect(lines(march)).toEqual([['base_fee', null, '10.00'], ['overage', 'base', '2.00'], ['credits_applied', null, '-2.00']]);
    // Voided: March is not charged, and the grant gets back the 2.00 it paid.
    expect((await t.post(`/v1/invoices/${march.id}/void`, { reason: 'goodwill' }, t.adminKey)).status).toBe(200);
    expect(await remaining()).toEqual(['5']);
    // A late March event of 1.00, paid by the grant: the next invoice bills its usage and the credits that paid
    // it, nothing more (the voided invoice's credits were given back, not billed).
    clock.set('2026-04-02T00:00:00.000Z');
    await report(t, org, [event('2026-03-30T10:00:00Z', 'qwen-turbo', { input: 2_000_000 })]);
    await settle(org);
    expect(await remaining()).toEqual(['4']);
    clock.set('2026-05-01T00:00:00.000Z');
    const april = await closeNow(org);
    expect(lines(april)).toEqual([
      ['base_fee', null, '10.00'],
      ['adjustment', 'base', '1.00'],
      ['adjustment', null, '-1.00'],
    ]);
    expect(april.lines[2]).toMatchObject({ charge: 'credits_applied', period_start: '2026-03-01T00:00:00.000Z' });
    expect(april.total).toBe('10.00');
  });

  it('announces allowance.exhausted once, in the settle run whose burns take the allowance\'s last part', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '10.00', included_allowance: '5.00' });
    const ep = await t.post('/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/allowance' }, org.keys.finance);
    expect(ep.status).toBe(201);
    const announced = async () =>
      ((await db.query(`SELECT body FROM webhook_events WHERE account_id = $1 AND type = 'allowance.exhausted'`, [org.account])) as { body: string }[]).map(
        (r) => (typeof r.body === 'string' ? JSON.parse(r.body) : r.body).data,
      );
    await settle(org);
    expect((await t.post(`/v1/accounts/${org.account}/credits/grants`, { amount: '1.00', reason: 'pilot' }, org.keys.sales)).status).toBe(201);
    // base input 0.50 per 1M: 8M tokens cost 4.00, within the 5.00 allowance.
    await report(t, org, [event('2026-03-09T10:00:00Z', 'qwen-turbo', { input: 8_000_000 })]);
    await settle(org);
    expect(await announced()).toEqual([]);
    // 1.50 more: the allowance's last 1.00, then 0.50 of the promotional grant.
    await report(t, org, [event('2026-03-10T10:00:00Z', 'qwen-turbo', { input: 3_000_000 })]);
    await settle(org);
    const [allowance] = (await db.query(`SELECT id FROM credit_grants WHERE account_id = $1 AND kind = 'allowance'`, [org.account])) as { id: string }[];
    expect(await announced()).toEqual([
      {
        grant_id: allowance!.id,
        allowance: '5',
        period_start: '2026-03-01T00:00:00.000Z',
        period_end: '2026-04-01T00:00:00.000Z',
        usage_day: '2026-03-10',
        credits_left: '0.5',
      },
    ]);
    // More usage and more runs: announced once.
    await report(t, org, [event('2026-03-10T11:00:00Z', 'qwen-turbo', { input: 2_000_000 })]);
    await settle(org);
    await settle(org);
    expect(await announced()).toHaveLength(1);
  });

  it('bills a blocked account the top-up it bought to continue, and no overage', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({
      base_fee: '20.00',
      included_allowance: '5.00',
      overage_policy: 'block',
      topup_packs: [{ id: 'small', allowance: '10.00', price: '9.00', validity_days: 30 }],
    });
    // base input 0.50 per 1M: 10M tokens cost 5.00, the whole allowance.
    await report(t, org, [event('2026-03-09T10:00:00Z', 'qwen-turbo', { input: 10_000_000 })]);
    const bought = await t.post(`/v1/accounts/${org.account}/credits/topups`, { id: 'march-1', pack: 'small' }, org.keys.finance);
    expect(bought.status).toBe(201);
    await report(t, org, [event('2026-03-10T11:00:00Z', 'qwen-turbo', { input: 4_000_000 })]);
    clock.set('2026-04-01T00:00:00.000Z');
    const inv = await closeNow(org);
    expect(lines(inv)).toEqual([
      ['base_fee', null, '20.00'],
      ['allowance_used', null, '0.00'],
      ['topup', null, '9.00'],
    ]);
    expect(inv.lines[2].description).toBe('Top-up pack small bought 2026-03-10: 10.00 EUR of usage');
    expect(inv.total).toBe('29.00');
  });

  it('closes every ended period from the hourly schedule, one job per account and period', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const org = await newBilledOrg({ base_fee: '5.00', included_allowance: '0' });
    clock.set('2026-04-01T00:30:00.000Z');
    const invoices = t.app.get(InvoicesService);
    await invoices.schedule();
    await invoices.schedule();
    const rows = await waitFor(
      (): Promise<{ status: string }[]> => db.query(`SELECT status, period_start FROM invoices WHERE account_id = $1`, [org.account]),
      (r) => r.length === 1,
      'the scheduled close',
    );
    expect(rows[0]!.status).toBe('draft');
    clock.set('2026-04-01T01:31:00.000Z');
    await invoices.schedule();
    await waitFor(() => db.query(`SELECT status FROM invoices WHERE account_id = $1`, [org.account]), (r: { status: string }[]) => r[0]?.status === 'finalized', 'the finalization');
  });
});

describe('Invoices and Stripe', () => {
  let t: TestApp;
  let clock: ManualClock;
  let fake: FakeStripe;

  beforeAll(async () => {
    fake = await new FakeStripe().start();
    clock = new ManualClock('2026-03-10T12:00:00.000Z');
    t = await startTestApp({ clock, env: { STRIPE_SECRET_KEY: 'sk_test_fake', STRIPE_WEBHOOK_SECRET: 'whsec_test_x', STRIPE_API_BASE: fake.url, TOKENMETER_STRIPE_TIMEOUT_MS: '1500' } });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('Stripe unavailable at close: the invoice finalizes here and syncs once Stripe is back, as one Stripe invoice', async () => {
    const org = await newOrg(t);
    await setupPricing(t, org.account);
    await plan(t, org, { base_fee: '30.00', included_allowance: '0' });
    await report(t, org, [event('2026-03-10T10:00:00Z', 'gpt-4o', { input: 1_000_000 })]);
    fake.down(503);
    clock.set('2026-04-01T00:00:00.000Z');
    const res = await t.post(`/v1/accounts/${org.account}/invoices/close`, { finalize: true }, org.keys.finance);
    expect(res.status).toBe(201);
    expect(res.body.status).toBe('finalized');
    const sync = t.app.get(StripeSync);
    const failed = await waitFor(() => sync.status('invoice', org.account, res.body.id), (s) => (s?.attempts ?? 0) >= 1 && s?.last_error !== null, 'a failed attempt');
    expect(failed!.state).toBe('pending');
    fake.recover();
    clock.set(new Date(failed!.next_attempt_at!.getTime() + 120_000));
    await sync.sweep();
    const done = await waitFor(() => sync.status('invoice', org.account, res.body.id), (s) => s?.state === 'synced', 'the sync');
    expect(done!.stripe_id).toBeTruthy();
    const mirrors = [...fake.invoices.values()].filter((i) => i.metadata.tokenmeter_id === res.body.id);
    expect(mirrors).toHaveLength(1);
    expect((mirrors[0] as { total: number }).total).toBe(3250);

    // Stripe says it is paid (a signed webhook, delivered twice): ours is paid once, and invoice.paid announced.
    const paid = fake.pay(done!.stripe_id!);
    const stripeEvent = fake.event('invoice.paid', paid);
    const payload = JSON.stringify(stripeEvent);
    const deliver = () =>
      t.request('POST', '/v1/stripe/webhook', {
        key: null,
        rawBody: payload,
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_test_x', timestamp: Math.floor(clock.now().getTime() / 1000) }),
        },
      });
    expect((await deliver()).status).toBe(200);
    expect((await deliver()).status).toBe(200);
    const view = (await t.get(`/v1/invoices/${res.body.id}`, org.keys.finance)).body;
    expect(view).toMatchObject({ status: 'paid', amount_paid: '32.50', stripe: { state: 'synced' } });
  });
});
