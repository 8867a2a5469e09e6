// Stripe end to end: the real SDK against a local fake Stripe (test/support/fake-stripe.ts) through
// STRIPE_API_BASE, webhooks signed with the SDK's own test-header helper, and the invoice and top-up
// invoice owner played by a small real implementation of its port over a table this test creates (invoices
// plug in the same way); top-ups are bought through the credit ledger's own route. Retries follow the
// injected clock.
import { Module, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { StripeHandlers, type InvoicePaidHandler } from '../billing/stripe/stripe-ports.js';
import { StripeModule } from '../billing/stripe/stripe.module.js';
import { StripeSync, SWEEP_GRACE_MS } from '../billing/stripe/stripe-sync.service.js';
import type { InvoiceForStripe } from '../billing/stripe/stripe-mapping.js';
import type { Tx } from '../src/database/data-source.js';
import { ManualClock } from '../src/clock/clock.js';
import { TransactionRunner } from '../src/database/transactions.js';
import { FakeStripe } from './support/fake-stripe.js';
import { newAccount, startTestApp, type TestApp } from './support/test-app.js';

const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef';

/** What billing/invoices will do on a Stripe payment, over a table of this test's own. */
class TestInvoices implements InvoicePaidHandler {
  async markPaid(tx: Tx, e: Parameters<InvoicePaidHandler['markPaid']>[1]): Promise<void> {
    await tx.query(
      `UPDATE test_invoices SET status = 'paid', paid_at = $2, paid_calls = paid_calls + 1, amount_paid = $3 WHERE id = $1`,
      [e.localInvoiceId, e.at, `${e.amountPaid} ${e.currency}`],
    );
  }
  async paymentFailed(tx: Tx, e: { localInvoiceId: string }): Promise<void> {
    await tx.query(`UPDATE test_invoices SET failed_payments = failed_payments + 1 WHERE id = $1`, [e.localInvoiceId]);
  }
  async voided(tx: Tx, e: { localInvoiceId: string }): Promise<void> {
    await tx.query(`UPDATE test_invoices SET voided_calls = voided_calls + 1 WHERE id = $1`, [e.localInvoiceId]);
  }
}

@Module({ imports: [StripeModule] })
class TestOwnersModule implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly handlers: StripeHandlers,
    private readonly dataSource: DataSource,
  ) {}
  async onModuleInit(): Promise<void> {
    await this.dataSource.query(`
      CREATE TABLE IF NOT EXISTS test_invoices (id text PRIMARY KEY, status text NOT NULL, paid_at timestamptz, amount_paid text,
        paid_calls int NOT NULL DEFAULT 0, failed_payments int NOT NULL DEFAULT 0, voided_calls int NOT NULL DEFAULT 0)`);
  }
  // After every module's init: billing/invoices registers the real handler there, and this test plays the owner instead.
  onApplicationBootstrap(): void {
    this.handlers.handleInvoices(new TestInvoices(), { replace: true });
  }
}

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;

describe('Stripe', () => {
  let t: TestApp;
  let clock: ManualClock;
  let fake: FakeStripe;
  let sync: StripeSync;
  let db: DataSource;
  let account: string;

  beforeAll(async () => {
    fake = await new FakeStripe().start();
    clock = new ManualClock('2026-03-15T12:00:00.000Z');
    t = await startTestApp({
      clock,
      env: {
        STRIPE_SECRET_KEY: 'sk_test_fake',
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_BASE: fake.url,
        TOKENMETER_STRIPE_TIMEOUT_MS: '1500',
      },
      extraModules: [TestOwnersModule],
    });
    sync = t.app.get(StripeSync);
    db = t.app.get(DataSource);
    account = (await newAccount(t, { name: 'Acme Corp' })).id;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });
  afterEach(() => fake.recover());

  function invoice(overrides: Partial<InvoiceForStripe> = {}): InvoiceForStripe {
    return {
      id: `inv_${++seq}`,
      accountId: account,
      currency: 'EUR',
      number: `TM-${seq}`,
      lines: [
        { description: 'Base fee', amount: '100.00' },
        { description: 'Overage, premier tier', amount: '12.35' },
        { description: 'Ineffective-spend credit', amount: '-2.50' },
      ],
      total: '109.85',
      ...overrides,
    };
  }

  /** What billing/invoices does at finalization: the invoice and its sync record in one transaction. */
  async function finalize(inv: InvoiceForStripe) {
    return t.app.get(TransactionRunner).run(async (tx) => {
      await tx.query(`INSERT INTO test_invoices (id, status) VALUES ($1, 'finalized')`, [inv.id]);
      return sync.queueInvoice(tx, inv);
    });
  }

  const local = async (id: string) => (await db.query('SELECT * FROM test_invoices WHERE id = $1', [id]))[0];
  const status = (kind: 'invoice' | 'topup', id: string, acct = account) => sync.status(kind, acct, id);
  const synced = (kind: 'invoice' | 'topup', id: string) =>
    waitFor(() => status(kind, id), (s) => s?.state === 'synced', `${kind} ${id} to sync`);
  /** Matches the calls that create this invoice of ours (so another test's retries cannot use up a planned failure). */
  const ours = (inv: InvoiceForStripe) => (params: Record<string, any>) => params.metadata?.tokenmeter_id === inv.id;
  const stripeInvoicesOf = (localId: string) => [...fake.invoices.values()].filter((i) => i.metadata.tokenmeter_id === localId);

  /** Moves the clock past the record's next attempt (and the sweep's grace) and lets the sweep queue it. */
  async function retryNow(kind: 'invoice' | 'topup', id: string): Promise<void> {
    const s = (await status(kind, id))!;
    expect(s.state).toBe('pending');
    clock.set(new Date(new Date(s.next_attempt_at!).getTime() + SWEEP_GRACE_MS + 1000));
    expect(await sync.sweep()).toBeGreaterThan(0);
  }

  async function deliver(event: object, options: { timestamp?: number; secret?: string; signature?: string | null; body?: string } = {}) {
    // Pretty-printed on purpose: the signature covers these exact bytes, not a re-serialisation.
    const payload = options.body ?? JSON.stringify(event, null, 2);
    const header =
      options.signature === undefined
        ? Stripe.webhooks.generateTestHeaderString({
            payload: JSON.stringify(event, null, 2),
            secret: options.secret ?? WEBHOOK_SECRET,
            timestamp: options.timestamp ?? Math.floor(clock.now().getTime() / 1000),
          })
        : options.signature;
    return t.request('POST', '/v1/stripe/webhook', {
      key: null,
      rawBody: payload,
      headers: { 'content-type': 'application/json; charset=utf-8', ...(header === null ? {} : { 'stripe-signature': header }) },
    });
  }

  const eventCount = async () => Number((await db.query('SELECT count(*)::int AS n FROM stripe_events'))[0].n);

  it('mirrors a finalized invoice: the account’s customer, a Stripe invoice with one item per line, finalized', async () => {
    const inv = invoice();
    const queued = await finalize(inv);
    expect(queued).toMatchObject({ state: 'pending', stripe_id: null });
    const done = await synced('invoice', inv.id);

    const [stripeInvoice] = stripeInvoicesOf(inv.id);
    expect(done).toMatchObject({ state: 'synced', stripe_id: stripeInvoice!.id, stripe_status: 'open', last_error: null });
    expect(stripeInvoice).toMatchObject({
      status: 'open',
      currency: 'eur',
      collection_method: 'send_invoice',
      days_until_due: 30,
      auto_advance: true,
      description: `Invoice ${inv.number}`,
      metadata: { tokenmeter_kind: 'invoice', tokenmeter_account: account, tokenmeter_id: inv.id },
      amount_due: 10985,
    });
    const customer = fake.customers.get(stripeInvoice!.customer)!;
    expect(customer).toMatchObject({ name: 'Acme Corp', metadata: { tokenmeter_kind: 'customer', tokenmeter_account: account, tokenmeter_id: account } });
    const items = [...fake.items.values()].filter((i) => i.invoice === stripeInvoice!.id);
    expect(items.map((i) => [i.description, i.amount, i.metadata.tokenmeter_line])).toEqual([
      ['Base fee', 10000, '0'],
      ['Overage, premier tier', 1235, '1'],
      ['Ineffective-spend credit', -250, '2'],
    ]);
    // Every write carried a key derived from our ids.
    const posts = fake.calls.filter((c) => c.method === 'POST');
    expect(posts.every((c) => c.idempotencyKey?.startsWith('tokenmeter:'))).toBe(true);
    expect(posts.map((c) => c.idempotencyKey)).toContain(`tokenmeter:invoice:${account}:${inv.id}:finalize`);
    expect(await local(inv.id)).toMatchObject({ status: 'finalized' });

    // The account's second invoice reuses its customer; queueing an invoice twice changes nothing.
    const second = invoice({ currency: 'JPY', lines: [{ description: 'Usage', amount: '1500' }], total: '1500' });
    await finalize(second);
    await synced('invoice', second.id);
    expect(fake.callsTo('POST', '/v1/customers')).toHaveLength(1);
    expect(stripeInvoicesOf(second.id)[0]).toMatchObject({ currency: 'jpy', amount_due: 1500, customer: stripeInvoice!.customer });
    const again = await t.app.get(TransactionRunner).run((tx) => sync.queueInvoice(tx, second));
    expect(again.state).toBe('synced');
    expect(stripeInvoicesOf(second.id)).toHaveLength(1);
  });

  it('Stripe unavailable at close: the invoice finalizes here and syncs when Stripe is back, without a second Stripe invoice', async () => {
    const before = fake.calls.length;
    fake.down(503);
    const inv = invoice();
    await finalize(inv);
    const failed = await waitFor(() => status('invoice', inv.id), (s) => (s?.attempts ?? 0) >= 1 && s?.last_error !== null, 'a failed attempt');
    expect(failed).toMatchObject({ state: 'pending', stripe_id: null, attempts: 1 });
    expect(failed!.last_error).toMatch(/Stripe/);
    expect(new Date(failed!.next_attempt_at!).getTime()).toBeGreaterThan(clock.now().getTime());
    expect(await local(inv.id)).toMatchObject({ status: 'finalized' });
    expect(fake.calls.length).toBeGreaterThan(before);

    // Still down at the next attempt, and this time the connection is dropped: the backoff grows.
    fake.recover();
    fake.down('drop');
    await retryNow('invoice', inv.id);
    // The second retry waits a minute, ±25 % (the first waited 30 s).
    const delay = (s: { next_attempt_at: Date | null } | null) => new Date(s!.next_attempt_at!).getTime() - clock.now().getTime();
    const second = await waitFor(() => status('invoice', inv.id), (s) => s!.attempts === 2 && s!.state === 'pending' && delay(s) >= 45_000, 'the second attempt to fail');
    expect(delay(second)).toBeLessThanOrEqual(75_000);

    fake.recover();
    await retryNow('invoice', inv.id);
    const done = await synced('invoice', inv.id);
    expect(done!.attempts).toBe(3);
    expect(stripeInvoicesOf(inv.id)).toHaveLength(1);
    expect(stripeInvoicesOf(inv.id)[0]).toMatchObject({ status: 'open', amount_due: 10985 });
    const creates = fake.calls.slice(before).filter((c) => c.method === 'POST' && c.path === '/v1/invoices' && c.outcome === 200);
    expect(creates).toHaveLength(1);
  });

  it('a lost answer: the retry sends the same idempotency key and gets the same invoice; a resumed attempt sends only what is missing', async () => {
    const inv = invoice();
    const before = fake.calls.length;
    // Stripe makes the invoice but the answer never arrives, twice (the SDK's own retry too): the attempt fails.
    fake.fail('lose-answer', 'POST', '/v1/invoices', 2, ours(inv));
    await finalize(inv);
    await waitFor(() => status('invoice', inv.id), (s) => s!.attempts === 1 && s!.state === 'pending' && s!.last_error !== null, 'the attempt to fail');
    const creates = fake.calls.slice(before).filter((c) => c.path === '/v1/invoices' && c.method === 'POST');
    expect(creates.map((c) => c.outcome)).toEqual(['lose-answer', 'lose-answer']);
    expect(new Set(creates.map((c) => c.idempotencyKey))).toEqual(new Set([`tokenmeter:invoice:${account}:${inv.id}:create`]));
    expect(stripeInvoicesOf(inv.id)).toHaveLength(1);

    // The next attempt times out on its first item (no answer at all, twice with the SDK's own retry).
    const onIt = (p: Record<string, any>) => p.invoice === stripeInvoicesOf(inv.id)[0]!.id;
    fake.fail('hang', 'POST', '/v1/invoiceitems', 2, onIt);
    await retryNow('invoice', inv.id);
    await waitFor(() => status('invoice', inv.id), (s) => s!.attempts === 2 && s!.state === 'pending' && /timeout/i.test(s!.last_error ?? ''), 'the attempt to time out');

    // The third attempt puts the items on, one answer lost on the way (the SDK retries it with the same key).
    fake.fail('lose-answer', 'POST', '/v1/invoiceitems', 1, onIt);
    await retryNow('invoice', inv.id);
    await synced('invoice', inv.id);
    expect(stripeInvoicesOf(inv.id)).toHaveLength(1);
    const stripeId = stripeInvoicesOf(inv.id)[0]!.id;
    expect([...fake.items.values()].filter((i) => i.invoice === stripeId).map((i) => i.amount)).toEqual([10000, 1235, -250]);
    const itemCalls = fake.calls.slice(before).filter((c) => c.path === '/v1/invoiceitems' && c.method === 'POST');
    expect(itemCalls.map((c) => c.outcome)).toEqual(['hang', 'hang', 'lose-answer', 'replayed', 200, 200]);
    expect(itemCalls[2]!.idempotencyKey).toBe(`tokenmeter:invoice:${account}:${inv.id}:item.0`);
    expect(itemCalls[3]!.idempotencyKey).toBe(itemCalls[2]!.idempotencyKey);
  });

  it('past Stripe’s 24-hour key memory, a resumed attempt finds the invoice it made by its metadata', async () => {
    const inv = invoice();
    fake.fail('lose-answer', 'POST', '/v1/invoices', 2, ours(inv));
    await finalize(inv);
    await waitFor(() => status('invoice', inv.id), (s) => s!.attempts === 1 && s!.last_error !== null, 'the attempt to fail');
    fake.forgetIdempotencyKeys();
    await retryNow('invoice', inv.id);
    const done = await synced('invoice', inv.id);
    expect(stripeInvoicesOf(inv.id)).toHaveLength(1);
    expect(done!.stripe_id).toBe(stripeInvoicesOf(inv.id)[0]!.id);
  });

  it('an invoice Stripe cannot carry exactly is recorded as failed with the reason, and nothing is sent', async () => {
    const before = fake.calls.length;
    const inv = invoice({ currency: 'UGX', lines: [{ description: 'Usage', amount: '1500.50' }], total: '1500.50' });
    const queued = await finalize(inv);
    expect(queued).toMatchObject({ state: 'failed', stripe_id: null });
    expect(queued.last_error).toMatch(/more decimal places than Stripe's 0 for UGX/);
    expect(fake.calls.length).toBe(before);
    expect(await local(inv.id)).toMatchObject({ status: 'finalized' });
  });

  describe('webhook', () => {
    async function mirrored(): Promise<{ inv: InvoiceForStripe; stripe: Record<string, any> }> {
      const inv = invoice();
      await finalize(inv);
      await synced('invoice', inv.id);
      return { inv, stripe: stripeInvoicesOf(inv.id)[0]! };
    }

    it('invoice.paid marks our invoice paid, once however often it is delivered', async () => {
      const { inv, stripe } = await mirrored();
      fake.pay(stripe.id);
      const event = fake.event('invoice.paid', stripe);
      const first = await deliver(event);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ received: true, event_id: event.id, outcome: 'paid' });
      expect(await local(inv.id)).toMatchObject({ status: 'paid', paid_calls: 1, amount_paid: '109.85 EUR' });
      expect(await status('invoice', inv.id)).toMatchObject({ stripe_status: 'paid' });

      const replay = await deliver(event);
      expect(replay.body).toMatchObject({ outcome: 'duplicate' });
      // Another event about the same payment (Stripe sends both) does not pay it twice either.
      const succeeded = await deliver(fake.event('invoice.payment_succeeded', stripe));
      expect(succeeded.body).toMatchObject({ outcome: 'paid' });
      expect(await local(inv.id)).toMatchObject({ paid_calls: 1 });
    });

    it('refuses a bad signature, a missing one and a stale timestamp with a code, applying nothing', async () => {
      const { inv, stripe } = await mirrored();
      fake.pay(stripe.id);
      const event = fake.event('invoice.paid', stripe);
      const events = await eventCount();

      const wrongSecret = await deliver(event, { secret: 'whsec_someone_else' });
      expect(wrongSecret.status).toBe(400);
      expect(wrongSecret.body.error).toMatchObject({ code: 'stripe_signature_invalid', field: 'stripe-signature' });

      // The body the signature was made for, sent re-serialised: not the bytes that were signed.
      const reserialised = await deliver(event, { body: JSON.stringify(event) });
      expect(reserialised.body.error.code).toBe('stripe_signature_invalid');

      const unsigned = await deliver(event, { signature: null });
      expect(unsigned.status).toBe(400);
      expect(unsigned.body.error.code).toBe('stripe_signature_missing');

      // No JSON body at all (no content type): nothing to verify, refused like a bad signature.
      const bodiless = await t.request('POST', '/v1/stripe/webhook', { key: null, headers: { 'stripe-signature': `t=${Math.floor(clock.now().getTime() / 1000)},v1=00` } });
      expect(bodiless.status).toBe(400);
      expect(bodiless.body.error.code).toBe('stripe_signature_invalid');

      const garbage = await deliver(event, { signature: 'nonsense' });
      expect(garbage.body.error.code).toBe('stripe_signature_invalid');

      const now = Math.floor(clock.now().getTime() / 1000);
      const stale = await deliver(event, { timestamp: now - 301 });
      expect(stale.status).toBe(400);
      expect(stale.body.error).toMatchObject({ code: 'stripe_signature_expired' });
      expect(stale.body.error.message).toMatch(/300 seconds/);

      expect(await local(inv.id)).toMatchObject({ status: 'finalized', paid_calls: 0 });
      expect(await eventCount()).toBe(events);

      // Within the tolerance it goes through.
      expect((await deliver(event, { timestamp: now - 299 })).body).toMatchObject({ outcome: 'paid' });
    });

    it('invoice.paid before invoice.finalized: each acts on the invoice as Stripe has it now', async () => {
      const { inv, stripe } = await mirrored();
      const finalizedSnapshot = fake.event('invoice.finalized', stripe);
      expect(finalizedSnapshot.data.object.status).toBe('open');
      fake.pay(stripe.id);
      const retrievesBefore = fake.callsTo('GET', `/v1/invoices/${stripe.id}`).length;

      expect((await deliver(fake.event('invoice.paid', stripe))).body).toMatchObject({ outcome: 'paid' });
      // The late finalized event still says "open"; the refetched invoice says paid, and it stays paid.
      expect((await deliver(finalizedSnapshot)).body).toMatchObject({ outcome: 'paid' });
      // A late failed-payment event about it does not undo the payment either.
      expect((await deliver(fake.event('invoice.payment_failed', { ...stripe, status: 'open' }))).body).toMatchObject({ outcome: 'paid' });

      expect(fake.callsTo('GET', `/v1/invoices/${stripe.id}`).length - retrievesBefore).toBe(3);
      expect(await local(inv.id)).toMatchObject({ status: 'paid', paid_calls: 1, failed_payments: 0 });
      expect(await status('invoice', inv.id)).toMatchObject({ stripe_status: 'paid' });
    });

    it('a failed payment is told to the invoice’s owner while the invoice stays open; a later payment pays it', async () => {
      const { inv, stripe } = await mirrored();
      expect((await deliver(fake.event('invoice.payment_failed', stripe))).body).toMatchObject({ outcome: 'payment_failed' });
      expect(await local(inv.id)).toMatchObject({ status: 'finalized', failed_payments: 1 });
      fake.pay(stripe.id);
      expect((await deliver(fake.event('invoice.paid', stripe))).body).toMatchObject({ outcome: 'paid' });
      expect(await local(inv.id)).toMatchObject({ status: 'paid' });
    });

    it('voiding ours voids the Stripe invoice; its invoice.voided is told to the owner once', async () => {
      const { inv, stripe } = await mirrored();
      const requested = await t.app.get(TransactionRunner).run((tx) => sync.requestVoid(tx, account, inv.id));
      expect(requested).toMatchObject({ state: 'pending' });
      await waitFor(() => status('invoice', inv.id), (s) => s?.state === 'synced' && s.stripe_status === 'void', 'the void to reach Stripe');
      expect(fake.invoices.get(stripe.id)!.status).toBe('void');
      const voided = fake.event('invoice.voided', fake.invoices.get(stripe.id)!);
      expect((await deliver(voided)).body).toMatchObject({ outcome: 'voided' });
      expect((await deliver(fake.event('invoice.voided', fake.invoices.get(stripe.id)!))).body).toMatchObject({ outcome: 'voided' });
      expect(await local(inv.id)).toMatchObject({ voided_calls: 1 });
    });

    it('acknowledges and ignores event types it does not act on, and invoices that are not ours', async () => {
      const events = await eventCount();
      const other = await deliver({ id: 'evt_other_1', object: 'event', type: 'customer.created', created: 1, data: { object: { id: 'cus_1', object: 'customer' } } });
      expect(other.status).toBe(200);
      expect(other.body).toEqual({ received: true, event_id: 'evt_other_1', outcome: 'ignored' });
      expect(await eventCount()).toBe(events);

      // An invoice someone made in Stripe's dashboard, without our metadata.
      const customer = [...fake.customers.values()][0]!;
      const foreign = { id: 'in_foreign', object: 'invoice', customer: customer.id, currency: 'eur', status: 'paid', metadata: {}, amount_due: 1, amount_paid: 1, attempt_count: 1, status_transitions: { paid_at: 1 } };
      fake.invoices.set(foreign.id, foreign);
      expect((await deliver(fake.event('invoice.paid', foreign))).body).toMatchObject({ outcome: 'ignored' });
    });

    it('sells a top-up through a Stripe invoice; its payment grants the credit once', async () => {
      const topupId = `buy-${++seq}`;
      const plan = await t.request('PUT', '/v1/plans/stripe-topups', {
        body: { currency: 'EUR', base_fee: '0', included_allowance: '0', overage_policy: 'block', topup_packs: [{ id: 'large', allowance: '500', price: '50', validity_days: 365 }] },
      });
      expect(plan.status).toBeLessThan(300);
      expect((await t.request('PUT', `/v1/accounts/${account}/subscription`, { body: { plan_id: 'stripe-topups', start_date: '2026-03-01', billing_anchor_day: 1 } })).status).toBe(200);
      const bought = await t.post(`/v1/accounts/${account}/credits/topups`, { id: topupId, pack: 'large' });
      expect(bought.status).toBe(201);
      expect(bought.body).toMatchObject({ id: topupId, status: 'pending', grant: null, payment: { state: 'pending' } });
      await synced('topup', topupId);
      const [stripe] = stripeInvoicesOf(topupId);
      expect(stripe).toMatchObject({ status: 'open', amount_due: 5000, metadata: { tokenmeter_kind: 'topup', tokenmeter_id: topupId } });
      const grants = async () => (await t.get(`/v1/accounts/${account}/credits`)).body.grants.filter((g: { topup_id: string }) => g.topup_id === topupId);
      expect((await deliver(fake.event('invoice.finalized', stripe!))).body).toMatchObject({ outcome: 'none' });
      expect(await grants()).toHaveLength(0);

      fake.pay(stripe!.id);
      const paid = fake.event('invoice.paid', stripe!);
      expect((await deliver(paid)).body).toMatchObject({ outcome: 'paid' });
      expect((await deliver(paid)).body).toMatchObject({ outcome: 'duplicate' });
      expect((await deliver(fake.event('invoice.payment_succeeded', stripe!))).body).toMatchObject({ outcome: 'paid' });
      const [grant] = await grants();
      expect(await grants()).toHaveLength(1);
      expect(grant).toMatchObject({ kind: 'topup', amount: '500', remaining: '500', priority: 30 });
      // Valid 365 days from Stripe's paid_at, to the end of the UTC day they run out in.
      const validFor = new Date(grant.expires_at).getTime() - new Date(grant.granted_at).getTime();
      expect(grant.expires_at).toMatch(/T00:00:00\.000Z$/);
      expect(validFor).toBeGreaterThanOrEqual(365 * 86_400_000);
      expect(validFor).toBeLessThan(366 * 86_400_000);
      const again = await t.post(`/v1/accounts/${account}/credits/topups`, { id: topupId, pack: 'large' });
      expect(again.body).toMatchObject({ status: 'granted', grant: { id: grant.id }, payment: { state: 'synced', stripe_status: 'paid' } });
    });

    it('answers 503 when Stripe cannot be reached to refetch, so Stripe delivers the event again', async () => {
      const { inv, stripe } = await mirrored();
      fake.pay(stripe.id);
      const event = fake.event('invoice.paid', stripe);
      fake.fail(503, 'GET', `/v1/invoices/${stripe.id}`, 2);
      const refused = await deliver(event);
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('stripe_unavailable');
      expect(await local(inv.id)).toMatchObject({ status: 'finalized' });
      expect((await deliver(event)).body).toMatchObject({ outcome: 'paid' });
    });
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.get('/docs-json', null)).body;
    const op = doc.paths['/v1/stripe/webhook'].post;
    expect(Object.keys(op.responses).sort()).toEqual(['200', '400', '404', '413', '415', '500', '503']);
    expect(op.security ?? []).toEqual([]);
  });
});

describe('Stripe off (no STRIPE_SECRET_KEY)', () => {
  let t: TestApp;
  let fake: FakeStripe;

  beforeAll(async () => {
    fake = await new FakeStripe().start();
    // An API base alone does not turn Stripe on.
    t = await startTestApp({ env: { STRIPE_API_BASE: fake.url, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET }, extraModules: [TestOwnersModule] });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  it('records objects as skipped, sends nothing, refuses webhooks, and everything else works', async () => {
    const account = (await newAccount(t)).id;
    const sync = t.app.get(StripeSync);
    expect(sync.enabled).toBe(false);
    const view = await t.app.get(TransactionRunner).run(async (tx) => {
      await tx.query(`INSERT INTO test_invoices (id, status) VALUES ('inv_off', 'finalized')`);
      return sync.queueInvoice(tx, { id: 'inv_off', accountId: account, currency: 'EUR', lines: [{ description: 'Base fee', amount: '10.00' }], total: '10.00' });
    });
    expect(view).toMatchObject({ state: 'skipped', stripe_id: null, last_error: 'Stripe was off (no STRIPE_SECRET_KEY)' });
    expect(await sync.sweep()).toBe(0);
    expect(fake.calls).toHaveLength(0);

    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'invoice.paid', data: { object: { id: 'in_1', object: 'invoice' } } });
    const res = await t.request('POST', '/v1/stripe/webhook', {
      key: null,
      rawBody: payload,
      headers: { 'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET }) },
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('stripe_disabled');

    expect((await t.get(`/v1/accounts/${account}`)).status).toBe(200);
    expect((await t.get('/health/ready', null)).status).toBe(200);
  });
});
