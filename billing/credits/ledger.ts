// The credit ledger's pure core: which grant a burn takes from, what expires, and every movement as two
// entries that sum to zero. No Nest, no I/O: the repository stores what these functions decide.
//
// Ledger accounts (per customer account):
//   grant:<id>       what is left of one grant; the balance is the sum over these
//   issued:<kind>    where grants of a kind come from (allowance, topup, promotional, ineffective_credit, adjustment)
//   usage            usage burned
//   expired          what grants held when they expired
//   adjustment       credit taken back by a negative adjustment
//   invoiced         credit applied to invoices as their negative lines (the ineffective-spend credit and
//                    its adjustments): issued and applied in one step, so it never adds to the balance
// A movement moves `amount` (> 0) from one ledger account to another: +amount on `to`, -amount on `from`.
import { Dec } from '../../tiers/pricing/decimal.js';
import { lastInstantBefore } from '../../tiers/plans/version-in-force.js';
import { billingPeriod } from '../../tiers/subscriptions/billing-period.js';

export type GrantKind = 'allowance' | 'topup' | 'promotional' | 'ineffective_credit' | 'adjustment';
export const GRANT_KINDS: readonly GrantKind[] = ['allowance', 'topup', 'promotional', 'ineffective_credit', 'adjustment'];

export type MovementKind = 'grant' | 'burn' | 'expiry' | 'adjustment' | 'restore' | 'apply' | 'unapply';

/**
 * Default priorities (a lower number burns first). The period allowance is 0 and nothing else may be:
 * usage burns the allowance before anything else (PRODUCT section 6, "allowance first"), which is also
 * what keeps the allowance grant's remainder equal to the `allowance_left` ingest reports.
 */
export const PRIORITY: Record<GrantKind, number> = { allowance: 0, promotional: 10, ineffective_credit: 20, adjustment: 20, topup: 30 };
export const MIN_OTHER_PRIORITY = 1;

export interface GrantState {
  id: string;
  priority: number;
  grantedAt: Date;
  /** null: never expires. */
  expiresAt: Date | null;
  remaining: Dec;
}

/**
 * The period allowance grants a run of burns used up: some left before the run, nothing after it (a grant
 * the run took out of `after` counts as empty). What `allowance.exhausted` announces.
 */
export function allowancesUsedUp(before: readonly GrantState[], after: readonly GrantState[]): string[] {
  const left = new Map(after.map((g) => [g.id, g.remaining]));
  return before.filter((g) => g.priority === PRIORITY.allowance && g.remaining.gt(0) && !(left.get(g.id)?.gt(0) ?? false)).map((g) => g.id);
}

export interface Movement {
  kind: MovementKind;
  from: string;
  to: string;
  amount: Dec;
  grantId: string;
}

export interface Entry {
  ledgerAccount: string;
  grantId: string | null;
  amount: Dec;
}

export const ledgerAccounts = {
  grant: (id: string) => `grant:${id}`,
  issued: (kind: GrantKind) => `issued:${kind}`,
  usage: 'usage',
  expired: 'expired',
  adjustment: 'adjustment',
  invoiced: 'invoiced',
} as const;

/** A movement's two entries; they sum to zero by construction. */
export function entriesOf(m: Movement): [Entry, Entry] {
  if (!m.amount.gt(0)) throw new RangeError(`a movement moves a positive amount, not ${m.amount.toFixed()}`);
  const grantOf = (account: string) => (account.startsWith('grant:') ? account.slice('grant:'.length) : null);
  return [
    { ledgerAccount: m.to, grantId: grantOf(m.to), amount: m.amount },
    { ledgerAccount: m.from, grantId: grantOf(m.from), amount: m.amount.negated() },
  ];
}

/** Burn order: lower priority number first, then soonest expiry (never-expiring last), then oldest, then id. */
export function compareBurnOrder(a: GrantState, b: GrantState): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ea = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const eb = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  if (a.grantedAt.getTime() !== b.grantedAt.getTime()) return a.grantedAt.getTime() - b.grantedAt.getTime();
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** A usage day: credits are booked by UTC day. */
export const DAY_MS = 86_400_000;

/** Whether `at` is 00:00 UTC, the start of a usage day. */
export function isDayStart(at: Date): boolean {
  return at.getTime() % DAY_MS === 0;
}

/** The first start of a UTC day at or after `at`. */
export function nextDayStart(at: Date): Date {
  return new Date(Math.ceil(at.getTime() / DAY_MS) * DAY_MS);
}

/**
 * When a grant valid for `days` days from `at` expires: at the end of the UTC day its `days` run out in
 * (granted at 12:00 on 28 April for one day, it expires at 00:00 on 30 April). Usage is booked by UTC day and
 * a grant pays for the days it covers (coversWindow), so a grant that expired during a day would pay, booked
 * a minute later, for that day's usage after it expired, while the `credits` level had stopped counting it.
 * A grant's expiry is therefore always the start of a day (an explicit `expires_at` must be one).
 */
export function expiryAfterDays(at: Date, days: number): Date {
  return nextDayStart(new Date(at.getTime() + days * DAY_MS));
}

/** Whether a grant may pay for usage in [from, to): it was granted before `to` and had not expired by `from`. */
export function coversWindow(g: Pick<GrantState, 'grantedAt' | 'expiresAt'>, window: { from: Date; to: Date }): boolean {
  return g.grantedAt.getTime() < window.to.getTime() && (g.expiresAt === null || g.expiresAt.getTime() > window.from.getTime());
}

export interface Allocation {
  grantId: string;
  amount: Dec;
}

/**
 * Takes `amount` from the grants in burn order (only those `eligible`), each up to what it has left.
 * What no grant covers is `uncovered` (overage: billed in arrears, or what `block` exists to prevent).
 */
export function allocateBurn(grants: readonly GrantState[], amount: Dec, eligible: (g: GrantState) => boolean = () => true): { allocations: Allocation[]; uncovered: Dec } {
  if (amount.isNegative()) throw new RangeError('a burn is not negative');
  let left = amount;
  const allocations: Allocation[] = [];
  for (const g of [...grants].sort(compareBurnOrder)) {
    if (left.isZero()) break;
    if (!g.remaining.gt(0) || !eligible(g)) continue;
    const take = Dec.min(left, g.remaining);
    allocations.push({ grantId: g.id, amount: take });
    left = left.minus(take);
  }
  return { allocations, uncovered: left };
}

/**
 * A day's usage burned from the grants in force that day, as if it had been booked on time: those still in
 * force (`live`) and those expired since (`lapsed`, each `remaining` being what it held when it expired and
 * still holds in `expired`), all in one burn order, each only if it covered the day. Usage metered late (an
 * event of the last day of a period, arriving after the job expired that period's allowance) so burns the
 * allowance it would have burned on time, as the period's invoice counts it within the allowance, not a
 * top-up bought for usage beyond it; and a race between the job's expiry and the event changes nothing.
 * A lapsed grant's part first comes back from `expired` (an `adjustment`, as when an ended allowance is put
 * back in force), then burns: it ends at zero again. Returns the movements, what no grant covered, and both
 * lists with what each grant holds after.
 */
export function burnInForce(
  live: readonly GrantState[],
  lapsed: readonly GrantState[],
  amount: Dec,
  window: { from: Date; to: Date },
): { movements: Movement[]; uncovered: Dec; live: GrantState[]; lapsed: GrantState[] } {
  const lapsedIds = new Set(lapsed.map((g) => g.id));
  const plan = allocateBurn([...live, ...lapsed], amount, (g) => coversWindow(g, window));
  const movements = plan.allocations.flatMap((a) => (lapsedIds.has(a.grantId) ? [reopenMovement(a.grantId, a.amount), ...burnMovements([a])] : burnMovements([a])));
  const taken = new Map(plan.allocations.map((a) => [a.grantId, a.amount]));
  const after = (gs: readonly GrantState[]) => gs.map((g) => (taken.has(g.id) ? { ...g, remaining: g.remaining.minus(taken.get(g.id)!) } : g));
  return { movements, uncovered: plan.uncovered, live: after(live), lapsed: after(lapsed) };
}

/** Movements of a burn: each allocation from its grant to `usage` (or `adjustment` for a negative adjustment). */
export function burnMovements(allocations: readonly Allocation[], kind: 'burn' | 'adjustment' = 'burn'): Movement[] {
  return allocations.map((a) => ({
    kind,
    from: ledgerAccounts.grant(a.grantId),
    to: kind === 'burn' ? ledgerAccounts.usage : ledgerAccounts.adjustment,
    amount: a.amount,
    grantId: a.grantId,
  }));
}

export function grantMovement(kind: GrantKind, grantId: string, amount: Dec): Movement {
  return { kind: 'grant', from: ledgerAccounts.issued(kind), to: ledgerAccounts.grant(grantId), amount, grantId };
}

/**
 * A credit an invoice line gives (or takes back), booked in the ledger without adding to what usage can
 * burn: the invoice already pays it out as money, so a usable grant too would pay it twice. `lineAmount` is
 * the line's signed amount (negative: a credit to the customer). A credit is issued into its grant and
 * applied to the invoice at once; a credit taken back (a positive adjustment line) is un-applied into the
 * grant and taken back as an adjustment. Either way the grant ends where it started, at zero.
 */
export function invoiceCreditMovements(kind: GrantKind, grantId: string, lineAmount: Dec): Movement[] {
  if (lineAmount.isZero()) return [];
  const grant = ledgerAccounts.grant(grantId);
  const amount = lineAmount.abs();
  if (lineAmount.isNegative()) {
    return [grantMovement(kind, grantId, amount), { kind: 'apply', from: grant, to: ledgerAccounts.invoiced, amount, grantId }];
  }
  return [
    { kind: 'apply', from: ledgerAccounts.invoiced, to: grant, amount, grantId },
    { kind: 'adjustment', from: grant, to: ledgerAccounts.adjustment, amount, grantId },
  ];
}

/**
 * A voided invoice's credits undone: for each grant, `net` is what the invoice applied through it (the
 * balance its movements left on `invoiced`; negative for a credit taken back). Each becomes one movement
 * back to where it came from, so `invoiced` holds only what non-void invoices credited.
 */
export function unapplyMovements(applied: readonly { grantId: string; kind: GrantKind; net: Dec }[]): Movement[] {
  const out: Movement[] = [];
  for (const a of applied) {
    if (a.net.gt(0)) out.push({ kind: 'unapply', from: ledgerAccounts.invoiced, to: ledgerAccounts.issued(a.kind), amount: a.net, grantId: a.grantId });
    else if (a.net.isNegative()) out.push({ kind: 'unapply', from: ledgerAccounts.adjustment, to: ledgerAccounts.invoiced, amount: a.net.negated(), grantId: a.grantId });
  }
  return out;
}

/** Grants whose expiry is at or before `now` and that still hold something: that remainder expires. */
export function dueExpiries(grants: readonly GrantState[], now: Date): Movement[] {
  return grants
    .filter((g) => g.expiresAt !== null && g.expiresAt.getTime() <= now.getTime() && g.remaining.gt(0))
    .sort(compareBurnOrder)
    .map((g) => ({ kind: 'expiry', from: ledgerAccounts.grant(g.id), to: ledgerAccounts.expired, amount: g.remaining, grantId: g.id }));
}

/**
 * The movement that brings a period allowance grant from what it was given to what the period's terms say
 * now (a plan version published mid-period, a pin or an override changes the period's included allowance:
 * the invoice bills the period on the terms in force at its end, and the ledger follows them as they
 * change). More is issued into the grant; less goes back to where it was issued from, never more than the
 * grant holds (the caller gives the period's burns back first, so it holds all it was given). Null when
 * nothing is to move.
 */
export function allowanceAdjustment(grant: Pick<GrantState, 'id' | 'remaining'>, given: Dec, wanted: Dec): Movement | null {
  const issued = ledgerAccounts.issued('allowance');
  const account = ledgerAccounts.grant(grant.id);
  if (wanted.gt(given)) return { kind: 'adjustment', from: issued, to: account, amount: wanted.minus(given), grantId: grant.id };
  const less = Dec.min(given.minus(wanted), Dec.max(0, grant.remaining));
  return less.gt(0) ? { kind: 'adjustment', from: account, to: issued, amount: less, grantId: grant.id } : null;
}

/** A period allowance grant: the billing period it is the allowance of, and when it is in force. */
export interface AllowanceGrant {
  id: string;
  periodStart: Date;
  grantedAt: Date;
  expiresAt: Date | null;
}

/**
 * The allowance grants a new period's allowance replaces: at most one period allowance is in force at any
 * instant. When the billing anchor changes mid-period, the new period (from 00:00 UTC on the new anchor day)
 * overlaps the one whose allowance is in force; that older grant is ended at the change (`now`), so the
 * account never holds two allowances at once. A grant of another period that is no longer in force at
 * `now` (the last period's, which the job expires at its end) is not replaced, it expires as it is due.
 */
export function supersededAllowances<G extends AllowanceGrant>(allowances: readonly G[], periodStart: Date, now: Date): G[] {
  return allowances.filter(
    (g) => g.periodStart.getTime() !== periodStart.getTime() && g.grantedAt.getTime() <= now.getTime() && (g.expiresAt === null || g.expiresAt.getTime() > now.getTime()),
  );
}

/**
 * Whether a period allowance's `periodStart` is one the billing anchor now makes, `grid` being any period
 * start of it (anchor days are 1 to 28, periods start at 00:00 UTC). One that is not is another anchor's: the
 * anchor moved, and the periods the invoices bill are the new anchor's, so it pays for none of their days.
 */
export function onGrid(grid: Date, periodStart: Date): boolean {
  return periodStart.getUTCDate() === grid.getUTCDate();
}

/** An allowance grant whose expiry came before its period's end: it was ended early (the anchor moved away). */
export function endedEarly(grant: Pick<AllowanceGrant, 'expiresAt'>, periodEnd: Date): boolean {
  return grant.expiresAt !== null && grant.expiresAt.getTime() < periodEnd.getTime();
}

/**
 * Whether an expired grant still pays for usage of the days it covered that is metered after it expired
 * (burnInForce): every grant but a period allowance ended before its period's end, or of a period the
 * billing anchor no longer makes (onGrid, `grid` a period start of the anchor now, null without one). An
 * anchor change gave those days to the new anchor's periods, whose allowances pay for them (as the settle
 * that ended or released it did for the usage it booked then). `periodStart` is set on period allowances only.
 */
export function paysLateUsage(grant: { periodStart: Date | null; expiresAt: Date | null }, grid: Date | null = null): boolean {
  if (grant.periodStart === null) return true;
  if (grid !== null && !onGrid(grid, grant.periodStart)) return false;
  return !endedEarly(grant, billingPeriod(grant.periodStart.getUTCDate(), grant.periodStart).end);
}

/** What the settle job reads of an account to tell whether a run would book anything (settleIsIdle). */
export interface SettleProbe {
  /** Some usage day since the account's first grant whose metered cost is not what is booked on it. */
  unbookedUsage: boolean;
  /** Some grant not marked expired whose expiry has come. */
  expiryDue: boolean;
  /**
   * The account's allowance grants not marked expired, and every one of a period that started in the last
   * 66 days (so the current period's and the one before it, expired or not: a billing period is at most 31 days).
   */
  allowances: readonly (AllowanceGrant & { amount: Dec; expiredAt: Date | null })[];
}

/**
 * Whether a settle run at `now` with this period allowance (null without a running subscription) would
 * book nothing and change no grant, so the job can skip the account: no usage to book, nothing to expire,
 * the period's allowance granted as its terms say and in force (or ended for good), no allowance of another
 * period to end. It mirrors the conditions of CreditLedger.settle one by one; the settle job's property test
 * (test/credits-idle.e2e-spec.ts) checks both ways over random histories: an account called idle is left as
 * it is by a run, and an account just settled is called idle.
 */
export function settleIsIdle(probe: SettleProbe, allowance: { amount: string; periodStart: Date; periodEnd: Date } | null, now: Date): boolean {
  // Usage to book, a grant to expire: among them the allowance of a period that just ended (settle's
  // `ending`, which is still open only until its first run after its end, and due by then).
  if (probe.unbookedUsage || probe.expiryDue) return false;
  if (allowance === null) return true;
  // The period before this one, whose allowance an anchor change ended before its end, with the anchor back
  // on its day: it is put in force again for its period (CreditsSettleService.endingAllowance).
  const previous = billingPeriod(allowance.periodStart.getUTCDate(), lastInstantBefore(allowance.periodStart));
  if (probe.allowances.some((g) => g.periodStart.getTime() === previous.start.getTime() && g.expiredAt !== null && endedEarly(g, previous.end))) return false;
  const current = probe.allowances.find((g) => g.periodStart.getTime() === allowance.periodStart.getTime());
  // Not granted yet: granted when it is more than nothing; of nothing, another period's allowance still in
  // force (the anchor moved) is ended.
  if (!current) return !new Dec(allowance.amount).gt(0) && supersededAllowances(probe.allowances.filter((g) => g.expiredAt === null), allowance.periodStart, now).length === 0;
  // Ended early and the period still running: the anchor came back, so it is reopened.
  if (current.expiredAt !== null) return !(endedEarly(current, allowance.periodEnd) && now.getTime() < allowance.periodEnd.getTime());
  // The period's terms changed the allowance since it was granted.
  if (!current.amount.eq(allowance.amount)) return false;
  // Another period's allowance still in force (the anchor changed mid-period) is ended.
  return supersededAllowances(probe.allowances.filter((g) => g.expiredAt === null), allowance.periodStart, now).length === 0;
}

/**
 * Grants ended early at `now`: each one's expiry becomes `now` (a millisecond after it was granted at the
 * least: a grant is valid for some time) and what it still holds expires through the ledger's own expiry
 * movement, so every entry still sums to zero and the burns already made stay where they are.
 */
export function endGrants(grants: readonly GrantState[], now: Date): { ended: GrantState[]; movements: Movement[] } {
  const ended = grants.map((g) => ({ ...g, expiresAt: new Date(Math.max(now.getTime(), g.grantedAt.getTime() + 1)) }));
  const movements = [...ended]
    .filter((g) => g.remaining.gt(0))
    .sort(compareBurnOrder)
    .map((g): Movement => ({ kind: 'expiry', from: ledgerAccounts.grant(g.id), to: ledgerAccounts.expired, amount: g.remaining, grantId: g.id }));
  return { ended, movements };
}

/**
 * A grant ended early put back in force: what expired when it was ended goes back to it (an `adjustment`
 * from `expired`), undoing that expiry, so its figures are what they were before it was ended.
 */
export function reopenMovement(grantId: string, expired: Dec): Movement {
  return { kind: 'adjustment', from: ledgerAccounts.expired, to: ledgerAccounts.grant(grantId), amount: expired, grantId };
}

/**
 * Usage given back (a voided invoice, a lower recomputed usage): undoes earlier burns, newest first,
 * into their grants, up to `amount`. Grants that expired meanwhile are skipped: giving back never
 * extends a grant's life.
 */
export function restoreMovements(burns: readonly Allocation[], amount: Dec, live: (grantId: string) => boolean): { movements: Movement[]; unrestored: Dec } {
  let left = amount;
  const movements: Movement[] = [];
  for (const b of [...burns].reverse()) {
    if (!left.gt(0)) break;
    if (!live(b.grantId) || !b.amount.gt(0)) continue;
    const give = Dec.min(left, b.amount);
    movements.push({ kind: 'restore', from: ledgerAccounts.usage, to: ledgerAccounts.grant(b.grantId), amount: give, grantId: b.grantId });
    left = left.minus(give);
  }
  return { movements, unrestored: left };
}

/**
 * A day's usage given back (its metered cost went down, a correction): its burns undone newest first, up to
 * `amount` (restoreMovements). What a grant no longer in force paid goes back into it and expires again at
 * once, so the ledger is as if the correction had come before the grant expired: `usage` holds what was
 * metered, `expired` what the grant would have had left.
 */
export function giveBackMovements(burns: readonly Allocation[], amount: Dec, live: (grantId: string) => boolean): Movement[] {
  return restoreMovements(burns, amount, () => true).movements.flatMap((m): Movement[] =>
    live(m.grantId) ? [m] : [m, { kind: 'expiry', from: ledgerAccounts.grant(m.grantId), to: ledgerAccounts.expired, amount: m.amount, grantId: m.grantId }],
  );
}

/** Balance of every ledger account: the sum of its entries. */
export function balances(entries: Iterable<Pick<Entry, 'ledgerAccount' | 'amount'>>): Map<string, Dec> {
  const out = new Map<string, Dec>();
  for (const e of entries) out.set(e.ledgerAccount, (out.get(e.ledgerAccount) ?? new Dec(0)).plus(e.amount));
  return out;
}

/** The account's credit balance: what its grants hold together. */
export function creditBalance(entries: Iterable<Pick<Entry, 'ledgerAccount' | 'amount'>>): Dec {
  let total = new Dec(0);
  for (const e of entries) if (e.ledgerAccount.startsWith('grant:')) total = total.plus(e.amount);
  return total;
}

/**
 * The `credits` level of authorization (block policy) as a limit and a spend that the settle job's booking
 * leaves as they are, so ingest can add an event's cost to the level at once and the job count nothing
 * twice: `limit` is what the grants in force were given (less what was taken back), `spent` what they paid
 * for usage (burns less restores) plus usage metered but not yet booked. `limit - spent` is what they hold
 * less that unbooked usage (the `available` of the credits API); booking moves usage from unbooked to
 * burned and changes neither figure, but for usage no grant covers (overage), which leaves `spent` when it
 * is booked as uncovered.
 */
export function creditsLevel(inForce: { granted: Dec; burned: Dec }, unbooked: Dec): { limit: Dec; spent: Dec } {
  return { limit: inForce.granted, spent: Dec.max(0, inForce.burned.plus(unbooked)) };
}

/** Grants' `granted` (every movement but burns and restores) and `burned` (burns less restores), from movements. */
export function grantFigures(movements: readonly Movement[], grantIds: ReadonlySet<string>): { granted: Dec; burned: Dec } {
  let granted = new Dec(0);
  let burned = new Dec(0);
  for (const m of movements) {
    for (const e of entriesOf(m)) {
      if (e.grantId === null || !grantIds.has(e.grantId)) continue;
      if (m.kind === 'burn' || m.kind === 'restore') burned = burned.minus(e.amount);
      else granted = granted.plus(e.amount);
    }
  }
  return { granted, burned };
}

/** Applies movements to grant states (a copy): what the stored entries will say each grant has left. */
export function applyMovements(grants: readonly GrantState[], movements: readonly Movement[]): GrantState[] {
  const byId = new Map(grants.map((g) => [g.id, { ...g }]));
  for (const m of movements) {
    for (const e of entriesOf(m)) {
      if (e.grantId === null) continue;
      const g = byId.get(e.grantId);
      if (!g) throw new Error(`movement on unknown grant ${e.grantId}`);
      g.remaining = g.remaining.plus(e.amount);
    }
  }
  return [...byId.values()];
}

/** What an earlier settle look left (CreditsRepository.settleProbes): its snapshot's xmin, and the accounts to compare whole again. */
export interface SettleLookMark {
  /** pg_snapshot_xmin of the look's snapshot: a 64-bit transaction id, as text. */
  mark: string;
  /** Accounts whose every day is compared again (a settle of theirs failed after the look, say). */
  recheck: ReadonlySet<string>;
}

/** Whether `mark` (an earlier snapshot's xmin) is at most `current` and less than 2^31 transactions before it. */
export function markInRange(mark: string, current: string): boolean {
  const behind = BigInt(current) - BigInt(mark);
  return behind >= 0n && behind < 0x8000_0000n;
}

/** A 64-bit transaction id (xid8, as text) as the 32-bit xid a row's xmin holds. */
export function xid32(xid8: string): string {
  return (BigInt(xid8) & 0xffff_ffffn).toString();
}
