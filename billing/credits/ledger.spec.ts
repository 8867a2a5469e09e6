import fc from 'fast-check';
import { Dec } from '../../tiers/pricing/decimal.js';
import {
  allocateBurn,
  allowanceAdjustment,
  allowancesUsedUp,
  applyMovements,
  balances,
  burnInForce,
  burnMovements,
  compareBurnOrder,
  coversWindow,
  creditBalance,
  creditsLevel,
  DAY_MS,
  grantFigures,
  dueExpiries,
  endGrants,
  entriesOf,
  expiryAfterDays,
  giveBackMovements,
  grantMovement,
  invoiceCreditMovements,
  isDayStart,
  markInRange,
  nextDayStart,
  onGrid,
  paysLateUsage,
  reopenMovement,
  restoreMovements,
  settleIsIdle,
  supersededAllowances,
  unapplyMovements,
  type AllowanceGrant,
  type Entry,
  type GrantState,
  type Movement,
  type SettleProbe,
  xid32,
} from './ledger.js';

const T0 = Date.UTC(2026, 0, 1);
const at = (h: number) => new Date(T0 + h * 3_600_000);
const grant = (id: string, priority: number, remaining: string, expiresH: number | null, grantedH = 0): GrantState => ({
  id,
  priority,
  grantedAt: at(grantedH),
  expiresAt: expiresH === null ? null : at(expiresH),
  remaining: new Dec(remaining),
});

describe('burn order', () => {
  it('takes lower priority first, then soonest expiry, then oldest', () => {
    const grants = [
      grant('topup', 30, '10', 500),
      grant('promo-late', 10, '5', 400),
      grant('promo-soon', 10, '5', 200),
      grant('promo-soon-older', 10, '5', 200, -1),
      grant('allowance', 0, '3', 700),
      grant('forever', 10, '5', null),
    ];
    expect([...grants].sort(compareBurnOrder).map((g) => g.id)).toEqual(['allowance', 'promo-soon-older', 'promo-soon', 'promo-late', 'forever', 'topup']);
    const { allocations, uncovered } = allocateBurn(grants, new Dec('9.5'));
    expect(allocations.map((a) => [a.grantId, a.amount.toFixed()])).toEqual([
      ['allowance', '3'],
      ['promo-soon-older', '5'],
      ['promo-soon', '1.5'],
    ]);
    expect(uncovered.toFixed()).toBe('0');
  });

  it('leaves what no grant covers uncovered, and skips grants that are not eligible', () => {
    const grants = [grant('a', 0, '2', 10), grant('b', 1, '2', 10, 5)];
    const { allocations, uncovered } = allocateBurn(grants, new Dec('3'), (g) => coversWindow(g, { from: at(0), to: at(4) }));
    expect(allocations.map((a) => a.grantId)).toEqual(['a']);
    expect(uncovered.toFixed()).toBe('1');
  });

  it('expires what is left of due grants only', () => {
    const grants = [grant('due', 0, '2', 10), grant('empty', 0, '0', 10), grant('later', 0, '1', 11), grant('never', 5, '1', null)];
    expect(dueExpiries(grants, at(10)).map((m) => [m.grantId, m.amount.toFixed(), m.to])).toEqual([['due', '2', 'expired']]);
  });

  it('restores newest burns first, never into a grant that is gone', () => {
    const burns = [
      { grantId: 'a', amount: new Dec('2') },
      { grantId: 'b', amount: new Dec('3') },
      { grantId: 'c', amount: new Dec('1') },
    ];
    const { movements, unrestored } = restoreMovements(burns, new Dec('5'), (id) => id !== 'c');
    expect(movements.map((m) => [m.grantId, m.amount.toFixed(), m.from, m.to])).toEqual([
      ['b', '3', 'usage', 'grant:b'],
      ['a', '2', 'usage', 'grant:a'],
    ]);
    expect(unrestored.toFixed()).toBe('0');
  });

  it('a new period\'s allowance replaces the allowance of another period still in force, and only that one', () => {
    const allowance = (id: string, startH: number, endH: number): AllowanceGrant => ({ id, periodStart: at(startH), grantedAt: at(startH), expiresAt: at(endH) });
    // The anchor moved back: the period [0, 720) overlaps [120, 840), whose allowance is in force at hour 130.
    const grants = [allowance('last', -600, 120), allowance('old', 120, 840), allowance('current', 0, 720), allowance('over', -720, 0)];
    expect(supersededAllowances(grants, at(0), at(130)).map((g) => g.id)).toEqual(['old']);
    // At the period boundary the last period's allowance is no longer in force: it expires as it is due.
    expect(supersededAllowances([allowance('last', -720, 0)], at(0), at(0))).toEqual([]);
  });

  it('ends grants at a time: their expiry becomes then and what they hold expires, burns stay', () => {
    const { ended, movements } = endGrants([grant('a', 0, '12.5', 700, 0), grant('empty', 0, '0', 700, 0), grant('b', 0, '3', 700, 5)], at(5));
    expect(ended.map((g) => [g.id, g.expiresAt?.getTime(), g.remaining.toFixed()])).toEqual([
      ['a', at(5).getTime(), '12.5'],
      ['empty', at(5).getTime(), '0'],
      // Granted at that very instant: valid for the least time a grant may be.
      ['b', at(5).getTime() + 1, '3'],
    ]);
    expect(movements.map((m) => [m.kind, m.grantId, m.amount.toFixed(), m.from, m.to])).toEqual([
      ['expiry', 'a', '12.5', 'grant:a', 'expired'],
      ['expiry', 'b', '3', 'grant:b', 'expired'],
    ]);
    expect(applyMovements([grant('a', 0, '12.5', 700, 0), grant('empty', 0, '0', 700, 0), grant('b', 0, '3', 700, 5)], movements).every((g) => g.remaining.isZero())).toBe(true);
  });

  it('putting an ended grant back in force with what expired undoes the end: same remainder, same figures, entries summing to zero', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 600 }), (cents, hour) => {
        const grants = cents.map((c, i) => grant(`g${i}`, 0, new Dec(c).div(100).toFixed(), 700, 0));
        const { movements } = endGrants(grants, at(hour));
        const back = movements.map((m) => reopenMovement(m.grantId, m.amount));
        const after = applyMovements(applyMovements(grants, movements), back);
        const ids = new Set(grants.map((g) => g.id));
        const given = grants.filter((g) => g.remaining.gt(0)).map((g) => grantMovement('allowance', g.id, g.remaining));
        return (
          after.every((g, i) => g.remaining.eq(grants[i]!.remaining)) &&
          grantFigures([...given, ...movements, ...back], ids).granted.eq(grantFigures(given, ids).granted) &&
          [...movements, ...back].every((m) => entriesOf(m).reduce((sum, e) => sum.plus(e.amount), new Dec(0)).isZero()) &&
          back.every((m) => m.from === 'expired' && m.to === `grant:${m.grantId}`)
        );
      }),
    );
  });

  it('a grant valid for some days expires at the start of the UTC day after they run out', () => {
    const d = (iso: string) => new Date(iso);
    expect(expiryAfterDays(d('2026-04-28T12:00:00Z'), 1).toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(expiryAfterDays(d('2026-04-28T00:00:00Z'), 1).toISOString()).toBe('2026-04-29T00:00:00.000Z');
    expect(expiryAfterDays(d('2026-04-28T23:59:59.999Z'), 30).toISOString()).toBe('2026-05-29T00:00:00.000Z');
    expect(isDayStart(d('2026-05-01T00:00:00Z'))).toBe(true);
    expect(isDayStart(d('2026-05-01T00:00:00.001Z'))).toBe(false);
    expect(nextDayStart(d('2026-12-31T23:59:59Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('a grant pays for the usage days it is in force on and no later day: its expiry never falls inside a day', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 * DAY_MS }), fc.integer({ min: 1, max: 3650 }), fc.integer({ min: 0, max: 4000 * DAY_MS }), (grantedMs, days, tMs) => {
        const grantedAt = new Date(Date.UTC(2026, 0, 1) + grantedMs);
        const expiresAt = expiryAfterDays(grantedAt, days);
        const t = new Date(grantedAt.getTime() + tMs);
        const from = new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
        const covers = coversWindow({ grantedAt, expiresAt }, { from, to: new Date(from.getTime() + DAY_MS) });
        // In force at t (what the `credits` level counts) exactly when it pays for t's day (what the job books),
        // and never shorter than the days it was given for.
        return isDayStart(expiresAt) && expiresAt.getTime() >= grantedAt.getTime() + days * DAY_MS && covers === t.getTime() < expiresAt.getTime();
      }),
      { numRuns: 2000 },
    );
  });

  it('usage booked late burns the grants in force on its day, those expired since too, in one burn order', () => {
    // The day is hours [0, 24); at hour 30 the allowance and a promotional grant have expired, a top-up not.
    const lapsed = [grant('allowance', 0, '4', 24), grant('promo', 10, '1', 12), grant('promo-before', 10, '9', 0, -100)];
    const live = [grant('topup', 30, '10', 900)];
    const { movements, uncovered, live: liveAfter, lapsed: lapsedAfter } = burnInForce(live, lapsed, new Dec('6'), { from: at(0), to: at(24) });
    expect(movements.map((m) => [m.kind, m.from, m.to, m.amount.toFixed()])).toEqual([
      ['adjustment', 'expired', 'grant:allowance', '4'],
      ['burn', 'grant:allowance', 'usage', '4'],
      ['adjustment', 'expired', 'grant:promo', '1'],
      ['burn', 'grant:promo', 'usage', '1'],
      ['burn', 'grant:topup', 'usage', '1'],
    ]);
    expect(uncovered.toFixed()).toBe('0');
    expect(liveAfter.map((g) => [g.id, g.remaining.toFixed()])).toEqual([['topup', '9']]);
    // A grant that had expired before the day began pays nothing of it.
    expect(lapsedAfter.map((g) => [g.id, g.remaining.toFixed()])).toEqual([
      ['allowance', '0'],
      ['promo', '0'],
      ['promo-before', '9'],
    ]);
  });

  it('an expired grant pays for late usage of its days, but a period allowance ended before its period ended', () => {
    const d = (iso: string) => new Date(iso);
    // The allowance of 6 December to 6 January, expired at its end; ended by an anchor change on 6 December; put back and ended at its end.
    expect(paysLateUsage({ periodStart: d('2026-12-06T00:00:00Z'), expiresAt: d('2027-01-06T00:00:00Z') })).toBe(true);
    expect(paysLateUsage({ periodStart: d('2026-12-06T00:00:00Z'), expiresAt: d('2026-12-06T10:05:00Z') })).toBe(false);
    expect(paysLateUsage({ periodStart: d('2026-12-28T00:00:00Z'), expiresAt: d('2027-01-28T00:00:00Z') })).toBe(true);
    expect(paysLateUsage({ periodStart: d('2026-12-28T00:00:00Z'), expiresAt: d('2027-01-27T23:59:59.999Z') })).toBe(false);
    // Other grants expire when they say.
    expect(paysLateUsage({ periodStart: null, expiresAt: d('2026-12-06T10:05:00Z') })).toBe(true);
    // The anchor moved to the 1st: an allowance of a period starting on the 6th pays for none of its days,
    // even one that ran to its end; the 1st's do.
    const grid = d('2027-01-01T00:00:00Z');
    expect(paysLateUsage({ periodStart: d('2026-12-06T00:00:00Z'), expiresAt: d('2027-01-06T00:00:00Z') }, grid)).toBe(false);
    expect(paysLateUsage({ periodStart: d('2026-12-01T00:00:00Z'), expiresAt: d('2027-01-01T00:00:00Z') }, grid)).toBe(true);
    expect(paysLateUsage({ periodStart: null, expiresAt: d('2026-12-06T10:05:00Z') }, grid)).toBe(true);
  });

  it('tells a period allowance of the anchor now from another anchor\'s', () => {
    const d = (iso: string) => new Date(iso);
    expect(onGrid(d('2027-01-15T00:00:00Z'), d('2026-11-15T00:00:00Z'))).toBe(true);
    expect(onGrid(d('2027-01-15T00:00:00Z'), d('2026-12-01T00:00:00Z'))).toBe(false);
    // Any period start of the anchor tells it, a short February's too.
    expect(onGrid(d('2027-02-28T00:00:00Z'), d('2027-03-28T00:00:00Z'))).toBe(true);
  });

  it('booking a day late, after grants expired, leaves every ledger account as booking it on time and expiring them after', () => {
    const grantArb = fc.record({ priority: fc.constantFrom(0, 10, 30), cents: fc.integer({ min: 0, max: 2_000 }), granted: fc.integer({ min: -48, max: 20 }), hours: fc.option(fc.integer({ min: 1, max: 96 })) });
    fc.assert(
      fc.property(fc.array(grantArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 24, max: 120 }), (specs, cents, nowH) => {
        const grants = specs.map((s, i) => grant(`g${i}`, s.priority, new Dec(s.cents).div(100).toFixed(), s.hours === null ? null : s.granted + s.hours, s.granted));
        const issued = grants.filter((g) => g.remaining.gt(0)).map((g) => grantMovement('promotional', g.id, g.remaining));
        const day = { from: at(0), to: at(24) };
        const amount = new Dec(cents).div(100);
        // On time: the day burned while every grant was in force, then what is due at `now` expires.
        const onTime = allocateBurn(grants, amount, (g) => coversWindow(g, day));
        const burned = applyMovements(grants, burnMovements(onTime.allocations));
        const onTimeMoves = [...issued, ...burnMovements(onTime.allocations), ...dueExpiries(burned, at(nowH))];
        // Late: what is due at `now` expired first; then the day is booked.
        const expiries = dueExpiries(grants, at(nowH));
        const afterExpiry = applyMovements(grants, expiries);
        const isLapsed = (g: GrantState) => g.expiresAt !== null && g.expiresAt.getTime() <= at(nowH).getTime();
        const lapsed = afterExpiry.filter(isLapsed).map((g) => ({ ...g, remaining: expiries.find((m) => m.grantId === g.id)?.amount ?? new Dec(0) }));
        const late = burnInForce(afterExpiry.filter((g) => !isLapsed(g)), lapsed, amount, day);
        const lateMoves = [...issued, ...expiries, ...late.movements];
        const norm = (ms: Movement[]) => [...balances(ms.flatMap((m) => entriesOf(m)))].filter(([, v]) => !v.isZero()).map(([k, v]) => `${k}=${v.toFixed()}`).sort();
        expect({ balances: norm(lateMoves), uncovered: late.uncovered.toFixed() }).toEqual({ balances: norm(onTimeMoves), uncovered: onTime.uncovered.toFixed() });
      }),
      { numRuns: 500 },
    );
  });

  it('a day given back after the grants that paid for it expired leaves every ledger account as giving it back before they expired', () => {
    const specs = fc.array(fc.record({ cents: fc.integer({ min: 0, max: 2_000 }), burned: fc.integer({ min: 0, max: 100 }), expires: fc.boolean() }), { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(specs, fc.integer({ min: 0, max: 100 }), (gs, backPct) => {
        // Each grant burned `burned` % of what it was given for the day; some expire at hour 24.
        const grants = gs.map((g, i) => grant(`g${i}`, 10, new Dec(g.cents).div(100).toFixed(), g.expires ? 24 : null));
        const issued = grants.filter((g) => g.remaining.gt(0)).map((g) => grantMovement('promotional', g.id, g.remaining));
        const burns = grants.map((g, i) => ({ grantId: g.id, amount: g.remaining.times(gs[i]!.burned).div(100) })).filter((b) => b.amount.gt(0));
        const burned = applyMovements(grants, burnMovements(burns));
        const back = burns.reduce((sum, b) => sum.plus(b.amount), new Dec(0)).times(backPct).div(100);
        // On time: given back while every grant is in force, then what is due at hour 30 expires.
        const given = giveBackMovements(burns, back, () => true);
        const onTime = [...issued, ...burnMovements(burns), ...given, ...dueExpiries(applyMovements(burned, given), at(30))];
        // Late: what is due expired first, then the day is given back.
        const expiries = dueExpiries(burned, at(30));
        const expiredIds = new Set(expiries.map((m) => m.grantId).concat(grants.filter((g) => g.expiresAt !== null).map((g) => g.id)));
        const late = [...issued, ...burnMovements(burns), ...expiries, ...giveBackMovements(burns, back, (id) => !expiredIds.has(id))];
        const norm = (ms: Movement[]) => [...balances(ms.flatMap((m) => entriesOf(m)))].filter(([, v]) => !v.isZero()).map(([k, v]) => `${k}=${v.toFixed()}`).sort();
        expect(norm(late)).toEqual(norm(onTime));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a movement of nothing', () => {
    expect(() => entriesOf({ kind: 'burn', from: 'grant:a', to: 'usage', amount: new Dec(0), grantId: 'a' })).toThrow(RangeError);
  });
});

// ---- Laws over random operation sequences ----

type Op =
  | { op: 'grant'; priority: number; amount: number; expiresH: number | null }
  | { op: 'burn'; amount: number; hour: number }
  | { op: 'expire'; hour: number }
  | { op: 'takeBack'; amount: number }
  | { op: 'restore'; amount: number }
  /** An invoice finalized with a line crediting (negative) or taking back (positive) ineffective-spend credit. */
  | { op: 'invoiceCredit'; invoice: number; amount: number; adjustment: boolean }
  | { op: 'void'; invoice: number }
  /** The settle job granting the allowance of the period [startH, startH + lengthH) at hour startH + backH (an anchor change moves the period). */
  | { op: 'allowance'; startH: number; lengthH: number; backH: number; amount: number };

const cents = fc.integer({ min: 1, max: 100_000 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('grant' as const), priority: fc.integer({ min: 0, max: 40 }), amount: cents, expiresH: fc.option(fc.integer({ min: 1, max: 100 }), { nil: null }) }),
  fc.record({ op: fc.constant('burn' as const), amount: cents, hour: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant('expire' as const), hour: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ op: fc.constant('takeBack' as const), amount: cents }),
  fc.record({ op: fc.constant('restore' as const), amount: cents }),
  fc.record({
    op: fc.constant('invoiceCredit' as const),
    invoice: fc.integer({ min: 0, max: 4 }),
    amount: fc.integer({ min: -100_000, max: 100_000 }).filter((c) => c !== 0),
    adjustment: fc.boolean(),
  }),
  fc.record({ op: fc.constant('void' as const), invoice: fc.integer({ min: 0, max: 4 }) }),
  fc.record({
    op: fc.constant('allowance' as const),
    startH: fc.integer({ min: 0, max: 60 }),
    lengthH: fc.integer({ min: 1, max: 40 }),
    backH: fc.integer({ min: 0, max: 40 }),
    amount: cents,
  }),
);

const isInvoiceOp = (o: Op) => o.op === 'invoiceCredit' || o.op === 'void';

const money = (c: number) => new Dec(c).dividedBy(100);

/** Runs the operations as the service does (pure core only); every movement booked, with checks on each step. */
function run(
  ops: readonly Op[],
  skipInvoices = false,
): { grants: GrantState[]; movements: Movement[]; burnChecks: boolean[]; allowanceChecks: boolean[]; invoiceLines: Map<number, Dec[]>; voided: Set<number> } {
  let grants: GrantState[] = [];
  const allowances: AllowanceGrant[] = [];
  const allowanceChecks: boolean[] = [];
  const invoiceLines = new Map<number, Dec[]>();
  const invoiceApplied = new Map<number, { grantId: string; kind: 'ineffective_credit' | 'adjustment'; net: Dec }[]>();
  const voided = new Set<number>();
  const movements: Movement[] = [];
  const burns: { grantId: string; amount: Dec }[] = [];
  const burnChecks: boolean[] = [];
  const book = (ms: Movement[]) => {
    movements.push(...ms);
    grants = applyMovements(grants, ms);
  };
  ops.forEach((o, i) => {
    if (skipInvoices && isInvoiceOp(o)) return;
    switch (o.op) {
      case 'grant': {
        const g: GrantState = { id: `g${i}`, priority: o.priority, grantedAt: at(0), expiresAt: o.expiresH === null ? null : at(o.expiresH), remaining: new Dec(0) };
        grants = [...grants, g];
        book([grantMovement('promotional', g.id, money(o.amount))]);
        break;
      }
      case 'burn': {
        const window = { from: at(o.hour), to: at(o.hour + 1) };
        const eligible = (g: GrantState) => coversWindow(g, window);
        const { allocations, uncovered } = allocateBurn(grants, money(o.amount), eligible);
        book(burnMovements(allocations));
        burns.push(...allocations);
        // Burn order: after the burn, every eligible grant before the last one taken from is empty, and
        // when some usage is uncovered every eligible grant is empty.
        const ordered = [...grants].filter(eligible).sort(compareBurnOrder);
        const lastIndex = Math.max(-1, ...allocations.map((a) => ordered.findIndex((g) => g.id === a.grantId)));
        const emptyUpTo = uncovered.gt(0) ? ordered.length : lastIndex;
        burnChecks.push(ordered.slice(0, emptyUpTo).every((g) => g.remaining.isZero()));
        break;
      }
      case 'expire': {
        const due = dueExpiries(grants, at(o.hour));
        book(due);
        break;
      }
      case 'takeBack': {
        const { allocations, uncovered } = allocateBurn(grants, money(o.amount));
        if (uncovered.isZero()) book(burnMovements(allocations, 'adjustment'));
        break;
      }
      case 'restore': {
        const { movements: ms } = restoreMovements(burns, money(o.amount), () => true);
        // Each burn can be given back once: take what was restored off the burns list.
        let left = ms.reduce((s, m) => s.plus(m.amount), new Dec(0));
        for (let j = burns.length - 1; j >= 0 && left.gt(0); j--) {
          const take = Dec.min(left, burns[j]!.amount);
          burns[j] = { ...burns[j]!, amount: burns[j]!.amount.minus(take) };
          left = left.minus(take);
        }
        book(ms);
        break;
      }
      case 'invoiceCredit': {
        // A void invoice gets no more lines (it is never finalized again).
        if (voided.has(o.invoice)) break;
        const kind = o.adjustment ? 'adjustment' : 'ineffective_credit';
        // As the service books it: a grant that is never in force (it expires as it is granted).
        const g: GrantState = { id: `g${i}`, priority: 20, grantedAt: at(0), expiresAt: at(0), remaining: new Dec(0) };
        grants = [...grants, g];
        const line = money(o.amount);
        const ms = invoiceCreditMovements(kind, g.id, line);
        book(ms);
        invoiceLines.set(o.invoice, [...(invoiceLines.get(o.invoice) ?? []), line]);
        const net = ms.reduce((s, m) => (m.to === 'invoiced' ? s.plus(m.amount) : m.from === 'invoiced' ? s.minus(m.amount) : s), new Dec(0));
        invoiceApplied.set(o.invoice, [...(invoiceApplied.get(o.invoice) ?? []), { grantId: g.id, kind, net }]);
        break;
      }
      case 'void': {
        if (voided.has(o.invoice)) break;
        voided.add(o.invoice);
        book(unapplyMovements(invoiceApplied.get(o.invoice) ?? []));
        break;
      }
      case 'allowance': {
        // As the settle job does: once per period, from its start; then the allowance of any other
        // period still in force ends now, what it holds expiring (burns already made stay).
        if (o.backH >= o.lengthH) break; // the job runs inside the period
        const start = at(o.startH);
        const now = at(o.startH + o.backH);
        if (allowances.some((a) => a.periodStart.getTime() === start.getTime())) break;
        const a: AllowanceGrant = { id: `g${i}`, periodStart: start, grantedAt: start, expiresAt: at(o.startH + o.lengthH) };
        grants = [...grants, { id: a.id, priority: 0, grantedAt: a.grantedAt, expiresAt: a.expiresAt, remaining: new Dec(0) }];
        book([grantMovement('allowance', a.id, money(o.amount))]);
        allowances.push(a);
        const before = grants.filter((g) => g.remaining.gt(0)).map((g) => ({ ...g }));
        const superseded = new Set(supersededAllowances(allowances, start, now).map((s) => s.id));
        const { ended, movements: ms } = endGrants(grants.filter((g) => superseded.has(g.id)), now);
        book(ms);
        for (const e of ended) {
          grants = grants.map((g) => (g.id === e.id ? { ...g, expiresAt: e.expiresAt } : g));
          allowances.forEach((x, j) => (x.id === e.id ? (allowances[j] = { ...x, expiresAt: e.expiresAt }) : undefined));
        }
        // One allowance holds credit and is in force from now on; what the others did not hold is unchanged.
        const inForce = grants.filter((g) => allowances.some((x) => x.id === g.id) && g.remaining.gt(0) && coversWindow(g, { from: now, to: new Date(now.getTime() + 1) }));
        const untouched = before.filter((g) => !superseded.has(g.id)).every((b) => grants.find((g) => g.id === b.id)!.remaining.eq(b.remaining));
        allowanceChecks.push(inForce.length <= 1 && untouched && ended.every((e) => grants.find((g) => g.id === e.id)!.remaining.isZero()));
        break;
      }
    }
  });
  return { grants, movements, burnChecks, allowanceChecks, invoiceLines, voided };
}

describe('allowanceAdjustment', () => {
  const allowance = (remaining: string) => ({ id: 'a', remaining: new Dec(remaining) });

  it('issues more into the grant, or gives back less, never more than the grant holds; nothing when the terms agree', () => {
    expect(allowanceAdjustment(allowance('20'), new Dec('20'), new Dec('30'))).toEqual({ kind: 'adjustment', from: 'issued:allowance', to: 'grant:a', amount: new Dec('10'), grantId: 'a' });
    expect(allowanceAdjustment(allowance('20'), new Dec('20'), new Dec('12.5'))).toEqual({ kind: 'adjustment', from: 'grant:a', to: 'issued:allowance', amount: new Dec('7.5'), grantId: 'a' });
    expect(allowanceAdjustment(allowance('3'), new Dec('20'), new Dec('0'))).toMatchObject({ from: 'grant:a', amount: new Dec('3') });
    expect(allowanceAdjustment(allowance('0'), new Dec('20'), new Dec('10'))).toBeNull();
    expect(allowanceAdjustment(allowance('20'), new Dec('20'), new Dec('20.000'))).toBeNull();
  });

  // What CreditLedger.followAllowance relies on: give back every burn of the period, adjust the allowance, burn
  // the same usage again, and each grant holds (and the uncovered part is) what it would be had the allowance
  // been given so from the start.
  it('giving the burns back, adjusting and burning again equals burning with the new allowance from the start', () => {
    const cents = (max: number) => fc.integer({ min: 0, max }).map((c) => new Dec(c).dividedBy(100));
    fc.assert(
      fc.property(cents(5000), cents(5000), fc.array(cents(2000), { maxLength: 3 }), fc.array(cents(3000), { minLength: 1, maxLength: 8 }), (given, wanted, others, days) => {
        const start = (allowanceAmount: Dec) => [grant('allowance', 0, allowanceAmount.toFixed(), 100), ...others.map((o, i) => grant(`g${i}`, 10 + i, o.toFixed(), null))];
        const burnDays = (grants: GrantState[]) => {
          let uncovered = new Dec(0);
          const burns: { grantId: string; amount: Dec }[] = [];
          for (const usage of days) {
            const plan = allocateBurn(grants, usage);
            grants = applyMovements(grants, burnMovements(plan.allocations));
            burns.push(...plan.allocations);
            uncovered = uncovered.plus(plan.uncovered);
          }
          return { grants, burns, uncovered };
        };
        const first = burnDays(start(given));
        const total = first.burns.reduce((sum, b) => sum.plus(b.amount), new Dec(0));
        let grants = applyMovements(first.grants, restoreMovements(first.burns, total, () => true).movements);
        const move = allowanceAdjustment(grants[0]!, given, wanted);
        if (move) grants = applyMovements(grants, [move]);
        const again = burnDays(grants);
        const fresh = burnDays(start(wanted));
        expect(again.grants.map((g) => [g.id, g.remaining.toFixed()])).toEqual(fresh.grants.map((g) => [g.id, g.remaining.toFixed()]));
        expect(again.uncovered.toFixed()).toBe(fresh.uncovered.toFixed());
      }),
      { numRuns: 300 },
    );
  });
});

describe('settleIsIdle', () => {
  // A period [0, 720) h, now at hour 100; the current allowance of 20 granted and in force.
  const period = { amount: '20', periodStart: at(0), periodEnd: at(720) };
  const allowance = (id: string, startH: number, endH: number, amount = '20', expiredH: number | null = null) => ({
    id,
    amount: new Dec(amount),
    periodStart: at(startH),
    grantedAt: at(startH),
    expiresAt: at(endH),
    expiredAt: expiredH === null ? null : at(expiredH),
  });
  const probe = (p: Partial<SettleProbe> = {}): SettleProbe => ({ unbookedUsage: false, expiryDue: false, allowances: [allowance('current', 0, 720)], ...p });
  const now = at(100);

  it('is idle when the period allowance is granted as its terms say and nothing is to book or expire', () => {
    expect(settleIsIdle(probe(), period, now)).toBe(true);
    // Last period's allowance, expired at its end, does not count.
    expect(settleIsIdle(probe({ allowances: [allowance('last', -720, 0, '20', 0), allowance('current', 0, 720)] }), period, now)).toBe(true);
  });

  it('is not idle with usage to book or a grant due to expire, whatever the allowance', () => {
    expect(settleIsIdle(probe({ unbookedUsage: true }), period, now)).toBe(false);
    expect(settleIsIdle(probe({ expiryDue: true }), period, now)).toBe(false);
    expect(settleIsIdle(probe({ unbookedUsage: true, allowances: [] }), null, now)).toBe(false);
    expect(settleIsIdle(probe({ expiryDue: true, allowances: [] }), null, now)).toBe(false);
    expect(settleIsIdle(probe({ allowances: [] }), null, now)).toBe(true);
  });

  it('is not idle when the period allowance is to be granted, changed, reopened, or replaces another', () => {
    // Not granted yet: granted when more than nothing.
    expect(settleIsIdle(probe({ allowances: [] }), period, now)).toBe(false);
    expect(settleIsIdle(probe({ allowances: [] }), { ...period, amount: '0' }, now)).toBe(true);
    // Granted at another amount than the terms now say (a plan version, a pin, an override).
    expect(settleIsIdle(probe(), { ...period, amount: '25' }, now)).toBe(false);
    expect(settleIsIdle(probe(), { ...period, amount: '20.000' }, now)).toBe(true);
    // Ended early (the anchor moved away) and the anchor is back while the period runs: reopened.
    expect(settleIsIdle(probe({ allowances: [allowance('current', 0, 50, '20', 50)] }), period, now)).toBe(false);
    // Ended at its own end: nothing to reopen.
    expect(settleIsIdle(probe({ allowances: [allowance('current', 0, 720, '20', 50)] }), period, now)).toBe(true);
    // Another period's allowance still in force (the anchor moved mid-period): it is ended.
    expect(settleIsIdle(probe({ allowances: [allowance('current', 0, 720), allowance('other', -100, 620)] }), period, now)).toBe(false);
    // ... also when the current period's allowance is nothing (none granted): the other no longer pays for its days.
    expect(settleIsIdle(probe({ allowances: [allowance('other', -100, 620)] }), { ...period, amount: '0' }, now)).toBe(false);
    // An allowance of nothing and no other in force: nothing to do.
    expect(settleIsIdle(probe({ allowances: [allowance('last', -720, 0, '20', 0)] }), { ...period, amount: '0' }, now)).toBe(true);
    // The period before this one (December, on the 1st's anchor), its allowance ended early by an anchor change
    // and the anchor back on its day: put in force again for its period. Ended at its end: nothing to do.
    expect(settleIsIdle(probe({ allowances: [allowance('previous', -744, -300, '20', -300), allowance('current', 0, 720)] }), period, now)).toBe(false);
    expect(settleIsIdle(probe({ allowances: [allowance('previous', -744, 0, '20', 0), allowance('current', 0, 720)] }), period, now)).toBe(true);
  });
});

describe('the settle look since a mark', () => {
  it('reads a 64-bit transaction id as the 32-bit xid of a row: its low 32 bits', () => {
    expect(xid32('1922')).toBe('1922');
    expect(xid32('4294967295')).toBe('4294967295');
    expect(xid32('4294967296')).toBe('0');
    expect(xid32('12884902889')).toBe('1001');
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), (x) => BigInt(xid32(x.toString())) === x % 4294967296n));
  });

  it('takes a mark only when the database has reached it and 32-bit ids still tell it apart', () => {
    expect(markInRange('1000', '1000')).toBe(true);
    expect(markInRange('1000', '5000')).toBe(true);
    expect(markInRange('5000', '1000')).toBe(false);
    expect(markInRange('1000', (1000n + 0x7fff_ffffn).toString())).toBe(true);
    expect(markInRange('1000', (1000n + 0x8000_0000n).toString())).toBe(false);
  });
});

describe('allowancesUsedUp', () => {
  it('names the allowance a run of burns empties, once: not one already empty, not one left with something, not other grants', () => {
    const before = [grant('allowance', 0, '3', 700), grant('old-allowance', 0, '0', 700), grant('promo', 10, '5', null)];
    const after = applyMovements(before, burnMovements(allocateBurn(before, new Dec('8')).allocations));
    expect(allowancesUsedUp(before, after)).toEqual(['allowance']);
    // The next run finds it empty already: nothing more to announce.
    expect(allowancesUsedUp(after, after)).toEqual([]);
    const partly = applyMovements(before, burnMovements(allocateBurn(before, new Dec('2.999999')).allocations));
    expect(allowancesUsedUp(before, partly)).toEqual([]);
  });

  it('announces an allowance exactly when some burn takes its last part, over any burns', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 8 }), fc.integer({ min: 1, max: 1000 }), (burns, allowance) => {
        let grants = [grant('allowance', 0, new Dec(allowance).dividedBy(100).toFixed(), 700), grant('promo', 10, '2', null)];
        let announced = 0;
        for (const b of burns) {
          const next = applyMovements(grants, burnMovements(allocateBurn(grants, new Dec(b).dividedBy(100)).allocations));
          announced += allowancesUsedUp(grants, next).length;
          grants = next;
        }
        const used = burns.reduce((sum, b) => sum + b, 0);
        expect(announced).toBe(used >= allowance ? 1 : 0);
      }),
    );
  });
});

describe('ledger laws', () => {
  const params = { numRuns: 300 };

  it('every movement is two entries that sum to zero, and all entries sum to zero', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { movements } = run(ops);
        const entries: Entry[] = movements.flatMap((m) => entriesOf(m));
        for (const m of movements) {
          const [a, b] = entriesOf(m);
          if (!a.amount.plus(b.amount).isZero()) return false;
        }
        return entries.reduce((s, e) => s.plus(e.amount), new Dec(0)).isZero();
      }),
      params,
    );
  });

  it('the balance is the sum of the entries: each grant holds what its entries say, never below zero', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { grants, movements } = run(ops);
        const entries = movements.flatMap((m) => entriesOf(m));
        const byAccount = balances(entries);
        const total = grants.reduce((s, g) => s.plus(g.remaining), new Dec(0));
        return (
          grants.every((g) => !g.remaining.isNegative() && (byAccount.get(`grant:${g.id}`) ?? new Dec(0)).eq(g.remaining)) &&
          creditBalance(entries).eq(total)
        );
      }),
      params,
    );
  });

  it('usage burns in order: no grant is taken from while one before it still holds credit', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => run(ops).burnChecks.every(Boolean)),
      params,
    );
  });

  it('one period allowance in force at a time: granting a period\'s allowance ends (expires) any other still in force, moving nothing else', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => run(ops).allowanceChecks.every(Boolean)),
      params,
    );
  });

  it('an invoice credit counts once: applied to its invoice, never added to the balance usage burns', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { grants, movements, invoiceLines, voided } = run(ops);
        const without = run(ops, true);
        const entries = movements.flatMap((m) => entriesOf(m));
        // What invoices credited = minus the sum of the ineffective-credit lines of the invoices not voided.
        let lines = new Dec(0);
        for (const [invoice, ls] of invoiceLines) if (!voided.has(invoice)) for (const l of ls) lines = lines.plus(l);
        const invoiced = balances(entries).get('invoiced') ?? new Dec(0);
        // And the grants usage can burn hold exactly what they would without any invoice.
        const sameGrants = without.grants.every((w) => grants.find((g) => g.id === w.id)?.remaining.eq(w.remaining));
        const invoiceGrantsEmpty = grants.filter((g) => !without.grants.some((w) => w.id === g.id)).every((g) => g.remaining.isZero());
        return invoiced.eq(lines.negated()) && creditBalance(entries).eq(creditBalance(without.movements.flatMap((m) => entriesOf(m)))) && sameGrants && invoiceGrantsEmpty;
      }),
      params,
    );
  });

  it('the credits level: limit - spent is the balance less unbooked usage, and booking usage changes neither figure', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), cents, fc.integer({ min: 0, max: 100_000 }), (ops, unbookedCents, burnCents) => {
        const { grants, movements } = run(ops);
        const ids = new Set(grants.map((g) => g.id));
        const entries = movements.flatMap((m) => entriesOf(m));
        const unbooked = money(unbookedCents);
        const level = creditsLevel(grantFigures(movements, ids), unbooked);
        const balanceLaw = level.limit.minus(level.spent).eq(creditBalance(entries).minus(unbooked));
        // The settle job books part of the unbooked usage against the grants: the figures stay as they were.
        const { allocations } = allocateBurn(grants, Dec.min(unbooked, money(burnCents)));
        const burns = burnMovements(allocations);
        const booked = burns.reduce((s, m) => s.plus(m.amount), new Dec(0));
        const after = creditsLevel(grantFigures([...movements, ...burns], ids), unbooked.minus(booked));
        return balanceLaw && after.limit.eq(level.limit) && after.spent.eq(level.spent);
      }),
      params,
    );
  });
});
