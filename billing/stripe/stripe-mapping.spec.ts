import fc from 'fast-check';
import { Dec, formatMoney } from '../../tiers/pricing/decimal.js';
import {
  idempotencyKey,
  invoiceEffect,
  localRefOf,
  META_LINE,
  missingItems,
  planInvoice,
  planTopup,
  StripeMappingError,
  type InvoiceForStripe,
} from './stripe-mapping.js';

const OPTIONS = { collectionMethod: 'send_invoice' as const, daysUntilDue: 30 };

function invoice(currency: string, amounts: string[], overrides: Partial<InvoiceForStripe> = {}): InvoiceForStripe {
  const total = amounts.reduce((s, a) => s.plus(a), new Dec(0)).toFixed();
  return { id: 'inv_1', accountId: 'acme', currency, lines: amounts.map((amount, i) => ({ description: `line ${i}`, amount })), total, ...overrides };
}

describe('Stripe mapping', () => {
  it('maps a finalized invoice to one item per line, in Stripe’s units, with our ids in metadata', () => {
    const plan = planInvoice(
      invoice('EUR', ['100.00', '12.35', '-2.50'], {
        number: 'TM-2026-0003',
        periodStart: new Date('2026-03-01T00:00:00Z'),
        periodEnd: new Date('2026-04-01T00:00:00Z'),
      }),
      OPTIONS,
    );
    expect(plan).toEqual({
      currency: 'eur',
      description: 'Invoice TM-2026-0003 for 2026-03-01 to 2026-04-01',
      collection_method: 'send_invoice',
      days_until_due: 30,
      metadata: { tokenmeter_kind: 'invoice', tokenmeter_account: 'acme', tokenmeter_id: 'inv_1' },
      items: [
        { line: '0', description: 'line 0', amount: 10000 },
        { line: '1', description: 'line 1', amount: 1235 },
        { line: '2', description: 'line 2', amount: -250 },
      ],
      total: 10985,
    });
  });

  it('JPY has no minor unit, KWD three; charge_automatically has no due date', () => {
    expect(planInvoice(invoice('JPY', ['1500', '-20']), { ...OPTIONS, collectionMethod: 'charge_automatically' })).toMatchObject({
      currency: 'jpy',
      collection_method: 'charge_automatically',
      days_until_due: null,
      items: [{ amount: 1500 }, { amount: -20 }],
      total: 1480,
    });
    // 5.124 + 1.001 = 6.125 KWD: Stripe charges tens of fils, so a rounding line (half-even: 6.120) follows.
    const kwd = planInvoice(invoice('KWD', ['5.124', '1.001']), OPTIONS);
    expect(kwd.items).toEqual([
      { line: '0', description: 'line 0', amount: 5124 },
      { line: '1', description: 'line 1', amount: 1001 },
      { line: 'rounding', description: 'Rounding to an amount Stripe can charge in KWD', amount: -5 },
    ]);
    expect(kwd.total).toBe(6120);
    expect(planInvoice(invoice('KWD', ['5.120']), OPTIONS).items).toHaveLength(1);
  });

  it('refuses lines that do not add up, and amounts Stripe cannot carry', () => {
    expect(() => planInvoice(invoice('EUR', ['1.00'], { total: '1.01' }), OPTIONS)).toThrow(/add up to 1, not its total 1.01/);
    expect(() => planInvoice(invoice('UGX', ['10.50']), OPTIONS)).toThrow(StripeMappingError);
  });

  it('law: item amounts are the lines rescaled exactly; the Stripe total is chargeable and within half a step of ours', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('EUR', 'JPY', 'KWD', 'ISK', 'USD'),
        fc.array(fc.bigInt({ min: -(10n ** 9n), max: 10n ** 9n }), { minLength: 1, maxLength: 12 }),
        (currency, minors) => {
          const places = currency === 'JPY' || currency === 'ISK' ? 0 : currency === 'KWD' ? 3 : 2;
          const amounts = minors.map((m) => formatMoney(new Dec(m.toString()).dividedBy(new Dec(10).pow(places)), currency));
          const plan = planInvoice(invoice(currency, amounts), OPTIONS);
          const lines = plan.items.filter((i) => i.line !== 'rounding');
          const scale = currency === 'ISK' ? 100 : 1;
          expect(lines.map((i) => i.amount)).toEqual(minors.map((m) => Number(m) * scale));
          expect(plan.total).toBe(plan.items.reduce((s, i) => s + i.amount, 0));
          const step = currency === 'KWD' ? 10 : currency === 'ISK' ? 100 : 1;
          expect(Math.abs(plan.total % step)).toBe(0);
          const ours = lines.reduce((s, i) => s + i.amount, 0);
          expect(Math.abs(plan.total - ours) * 2).toBeLessThanOrEqual(step);
        },
      ),
    );
  });

  it('maps a top-up pack to one item of its price, rounded once', () => {
    const plan = planTopup(
      { accountId: 'acme', topupId: 'buy-7', packId: 'large', price: '49.995', currency: 'EUR', description: 'Top-up pack large' },
      OPTIONS,
    );
    expect(plan).toMatchObject({
      description: 'Top-up buy-7 (pack large)',
      metadata: { tokenmeter_kind: 'topup', tokenmeter_account: 'acme', tokenmeter_id: 'buy-7' },
      items: [{ line: '0', amount: 5000 }],
      total: 5000,
    });
  });

  it('idempotency keys come from our ids alone, readable when they can be, and never collide', () => {
    expect(idempotencyKey('invoice', 'acme', 'inv_1', 'create')).toBe('tokenmeter:invoice:acme:inv_1:create');
    expect(idempotencyKey('invoice', 'acme', 'inv_1', 'create')).toBe(idempotencyKey('invoice', 'acme', 'inv_1', 'create'));
    expect(idempotencyKey('topup', 'acme', 'a:b c', 'item.0')).toMatch(/^tokenmeter:topup:sha256:[0-9a-f]{64}$/);
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom('invoice', 'topup', 'customer' as const), fc.string(), fc.string({ maxLength: 300 }), fc.string()),
        fc.tuple(fc.constantFrom('invoice', 'topup', 'customer' as const), fc.string(), fc.string({ maxLength: 300 }), fc.string()),
        (a, b) => {
          const ka = idempotencyKey(...a);
          expect(ka.length).toBeLessThanOrEqual(255);
          if (a.some((x, i) => x !== b[i])) expect(ka).not.toBe(idempotencyKey(...b));
        },
      ),
    );
  });

  it('finds our object behind a Stripe object by its metadata, and nothing behind others', () => {
    expect(localRefOf({ tokenmeter_kind: 'invoice', tokenmeter_account: 'acme', tokenmeter_id: 'inv_1' })).toEqual({ kind: 'invoice', accountId: 'acme', localId: 'inv_1' });
    expect(localRefOf({ tokenmeter_kind: 'subscription', tokenmeter_account: 'acme', tokenmeter_id: 'x' })).toBeNull();
    expect(localRefOf({})).toBeNull();
    expect(localRefOf(null)).toBeNull();
  });

  it('a resumed sync sends only the items not on the Stripe invoice yet', () => {
    const plan = planInvoice(invoice('EUR', ['1.00', '2.00', '3.00']), OPTIONS);
    expect(missingItems(plan, [{ metadata: { [META_LINE]: '1' } }, { metadata: null }]).map((i) => i.line)).toEqual(['0', '2']);
  });

  it('acts on the invoice’s current state, whatever event brought the news', () => {
    expect(invoiceEffect('invoice.paid', { status: 'paid' })).toBe('paid');
    // Out of order: a finalized (or failed-payment) event arriving after the payment must not undo it.
    expect(invoiceEffect('invoice.finalized', { status: 'paid' })).toBe('paid');
    expect(invoiceEffect('invoice.payment_failed', { status: 'paid' })).toBe('paid');
    expect(invoiceEffect('invoice.payment_failed', { status: 'open' })).toBe('payment_failed');
    expect(invoiceEffect('invoice.finalized', { status: 'open' })).toBe('none');
    expect(invoiceEffect('invoice.voided', { status: 'void' })).toBe('voided');
    expect(invoiceEffect('invoice.paid', { status: 'void' })).toBe('voided');
    expect(invoiceEffect('invoice.marked_uncollectible', { status: 'uncollectible' })).toBe('uncollectible');
    expect(invoiceEffect('invoice.paid', { status: 'draft' })).toBe('none');
  });
});
