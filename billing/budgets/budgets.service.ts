// Setting, removing and transferring budgets: each one audited use case in one transaction, with the
// allocation check down the org tree and, for a hard budget, its counter level's limit set in the same
// step. Also the two ports authorization reads budgets through: which hard budgets lie on a path, and
// their limits.
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { allocationText } from '../../src/accounts/org-budgets.port.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { Dec, parseDecimal } from '../../tiers/pricing/decimal.js';
import { PricingInputError } from '../../tiers/pricing/pricing-input-error.js';
import {
  COUNTERS_ENGINE,
  levels,
  periodKey,
  withCounterWrites,
  type BudgetNode,
  type CounterWrite,
  type CountersEngine,
  type HardBudgetsPort,
  type Limit,
  type LimitSource,
  type Period,
  type PeriodKind,
} from '../authorizations/counters.js';
import { candidateBudgetLevels } from '../authorizations/levels.js';
import { LimitRegistry } from '../authorizations/limit-registry.js';
import { PathPlans } from '../authorizations/path-plans.js';
import { SpendRepository } from '../authorizations/spend.repository.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import {
  budgetPeriod,
  dateOnly,
  DEFAULT_THRESHOLDS,
  newOverAllocation,
  nodeExists,
  nodeKey,
  parentOf,
  parseNode,
  peopleIn,
  type Allocation,
  type OverAllocation,
} from './budget-math.js';
import { BudgetsRepository, type BudgetRow } from './budgets.repository.js';
import { OrgTrees, type Org } from './org-trees.js';

export interface BudgetBody {
  period: PeriodKind;
  period_start?: string;
  headcount?: number | null;
  token_limit?: number | null;
  amount_limit?: string | null;
  enforcement?: 'soft' | 'hard';
  thresholds?: number[];
}

export interface TransferBody {
  from: string;
  to: string;
  period: PeriodKind;
  period_start?: string;
  headcount?: number;
  tokens?: number;
  amount?: string;
}

export interface BudgetView {
  node: string;
  period: { kind: PeriodKind; start: string; end: string };
  headcount: number | null;
  token_limit: number | null;
  amount_limit: string | null;
  enforcement: 'soft' | 'hard';
  thresholds: number[];
  updated_at: Date;
}

export interface TransferView {
  from: BudgetView;
  to: BudgetView | null;
  moved: { headcount: number; tokens: number; amount: string };
}

export function budgetView(row: BudgetRow): BudgetView {
  return {
    node: row.node,
    period: { kind: row.period_kind, start: row.period_start, end: row.period_end },
    headcount: row.headcount,
    token_limit: row.token_limit === null ? null : Number(row.token_limit),
    amount_limit: row.amount_limit === null ? null : new Dec(row.amount_limit).toFixed(),
    enforcement: row.enforcement,
    thresholds: row.thresholds,
    updated_at: row.updated_at,
  };
}

export function allocationOf(row: BudgetRow): Allocation {
  return { node: row.node, headcount: row.headcount, tokens: row.token_limit === null ? null : Number(row.token_limit), amount: row.amount_limit };
}

/** What a hard budget puts on its counter level (a soft one: no limit). */
function counterLimit(row: BudgetRow | null): Limit {
  if (row === null || row.enforcement !== 'hard') return { amount: null, tokens: null };
  return { amount: row.amount_limit, tokens: row.token_limit === null ? null : Number(row.token_limit) };
}

function invalid(field: string, message: string): BillingError {
  return new BillingError(BillingErrorCode.InvalidBudget, message, { field });
}

function amountOf(raw: string, field: string): string {
  try {
    return parseDecimal(raw, field).toFixed();
  } catch (error) {
    if (error instanceof PricingInputError) throw invalid(field, `${error.message}.`);
    throw error;
  }
}

function wholeNumber(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw invalid(field, `${field} must be a whole number of 0 or more.`);
  return value;
}

/**
 * The period of `kind` starting on `start` in the fiscal calendar (without `start`, the one in force at `now`);
 * 400 invalid_budget_period when `start` is no first day of one.
 */
export function namedPeriod(fiscalYearStartMonth: number, kind: PeriodKind, start: string | undefined, now: Date): Period {
  const period = budgetPeriod(kind, fiscalYearStartMonth, now, start);
  if (period === null) {
    throw new BillingError(
      BillingErrorCode.InvalidBudgetPeriod,
      `period_start must be the first day of a ${kind} of the account's fiscal calendar (its year starts in month ${fiscalYearStartMonth}).`,
      { field: 'period_start' },
    );
  }
  return period;
}

export function parseNodeParam(raw: string, field = 'node'): BudgetNode {
  const node = parseNode(raw);
  if (node === null) {
    // A bare id is the usual slip: show it both ways.
    const bare = /^[a-z0-9][a-z0-9._-]{0,63}$/.test(raw) ? ` (for "${raw}": "person:${raw}" or "unit:${raw}")` : '';
    throw new BillingError(BillingErrorCode.InvalidBudgetNode, `${field} must be "account", "unit:<id>" or "person:<id>"${bare}.`, { field });
  }
  return node;
}

function overAllocated(o: OverAllocation, period: Period): BillingError {
  return new BillingError(
    BillingErrorCode.BudgetOverAllocated,
    `${o.parent} allocates ${allocationText(o.measure, o.allocated)} for ${periodKey(period)}; its children would take ${o.children}, ${o.over} more.`,
    { parent: o.parent, measure: o.measure, over: o.over },
  );
}

@Injectable()
export class BudgetsService implements LimitSource, HardBudgetsPort, OnModuleInit {
  readonly kinds = ['budget'] as const;
  private readonly logger = new Logger('budgets');

  constructor(
    private readonly budgets: BudgetsRepository,
    private readonly accounts: AccountsRepository,
    private readonly trees: OrgTrees,
    private readonly spend: SpendRepository,
    private readonly registry: LimitRegistry,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    private readonly plans: PathPlans,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.registerHardBudgets(this);
  }

  // ---- Ports for authorization ----

  async limits(db: Db, account: string, list: readonly string[]): Promise<Map<string, Limit>> {
    const rows = await this.budgets.hardByLevel(db, account, list);
    return new Map(rows.map((r) => [r.level, { amount: r.amount, tokens: r.tokens === null ? null : Number(r.tokens) }]));
  }

  async hardLevels(db: Db, account: string, nodes: readonly BudgetNode[], at: Date): Promise<string[]> {
    const acct = await this.accounts.findAccount(account, db);
    if (!acct) return [];
    const candidates = candidateBudgetLevels(nodes, acct.fiscal_year_start_month, at);
    const found = new Set((await this.budgets.hardByLevel(db, account, candidates)).map((r) => r.level));
    return candidates.filter((l) => found.has(l));
  }

  // ---- Writes ----

  /** Creates or replaces the budget of a node for a period. */
  async put(principal: Principal, account: string, rawNode: string, body: BudgetBody): Promise<BudgetView> {
    const node = parseNodeParam(rawNode);
    const key = nodeKey(node);
    const headcount = body.headcount == null ? null : wholeNumber(body.headcount, 'headcount');
    const tokens = body.token_limit == null ? null : wholeNumber(body.token_limit, 'token_limit');
    const amount = body.amount_limit == null ? null : amountOf(body.amount_limit, 'amount_limit');
    if (headcount === null && tokens === null && amount === null) {
      throw invalid('headcount', 'A budget needs headcount, token_limit, amount_limit, or several of them.');
    }
    if (node.kind === 'person' && headcount !== null && headcount > 1) throw invalid('headcount', 'A person is one head: headcount 0 or 1.');
    const thresholds = [...new Set(body.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b);
    return this.write(account, async (tx, writes, now, { tree }, acct) => {
      if (!nodeExists(tree, node)) throw nodeNotFound(node, {});
      const period = this.periodOf(body.period, acct.fiscal_year_start_month, now, body.period_start);
      const start = dateOnly(period.start);
      const before = await this.budgets.ofPeriod(tx, account, period.kind, start);
      const previous = before.find((b) => b.node === key) ?? null;
      const next: BudgetRow = {
        node: key,
        period_kind: period.kind,
        period_start: start,
        period_end: dateOnly(period.end),
        headcount,
        token_limit: tokens === null ? null : String(tokens),
        amount_limit: amount,
        enforcement: body.enforcement ?? 'soft',
        thresholds,
        updated_at: now,
        updated_by: principal.keyId,
      };
      const over = newOverAllocation(tree, before.map(allocationOf), [...before.filter((b) => b.node !== key), next].map(allocationOf));
      if (over) throw overAllocated(over, period);
      const saved = await this.budgets.upsert(tx, account, next);
      await this.setCounter(tx, writes, account, node, period, previous, saved, now);
      await this.audit.record(tx, actorOf(principal), {
        action: 'budget.set',
        entityType: 'budget',
        entityId: `${key}/${periodKey(period)}`,
        accountId: account,
        before: previous && budgetView(previous),
        after: budgetView(saved),
      });
      return budgetView(saved);
    });
  }

  async remove(principal: Principal, account: string, rawNode: string, kind: PeriodKind | undefined, periodStart: string | undefined): Promise<void> {
    const node = parseNodeParam(rawNode);
    if (kind === undefined) throw new BillingError(BillingErrorCode.InvalidBudgetPeriod, 'Say which budget: query parameter "period" (year, quarter or month).', { field: 'period' });
    const key = nodeKey(node);
    await this.write(account, async (tx, writes, now, { tree }, acct) => {
      const period = this.periodOf(kind, acct.fiscal_year_start_month, now, periodStart);
      const start = dateOnly(period.start);
      const before = await this.budgets.ofPeriod(tx, account, period.kind, start);
      const previous = before.find((b) => b.node === key);
      if (!previous) throw new BillingError(BillingErrorCode.BudgetNotFound, `${key} has no budget for ${periodKey(period)}.`, { node: key });
      // Its children then count against the next budget up, which must hold them.
      const over = newOverAllocation(tree, before.map(allocationOf), before.filter((b) => b.node !== key).map(allocationOf));
      if (over) throw overAllocated(over, period);
      await this.budgets.delete(tx, account, key, period.kind, start);
      await this.setCounter(tx, writes, account, node, period, previous, null, now);
      await this.audit.record(tx, actorOf(principal), {
        action: 'budget.delete',
        entityType: 'budget',
        entityId: `${key}/${periodKey(period)}`,
        accountId: account,
        before: budgetView(previous),
        after: null,
      });
      return null;
    });
  }

  /**
   * Moves unused allocation from a node to a sibling (its limit grows) or back to its parent (the
   * parent's allocation stays; the part no longer allocated below it is free again there). What is spent
   * or held cannot move: for a hard budget the counters engine checks that atomically with holds.
   */
  async transfer(principal: Principal, account: string, body: TransferBody): Promise<TransferView> {
    const from = parseNodeParam(body.from, 'from');
    const to = parseNodeParam(body.to, 'to');
    const fromKey = nodeKey(from);
    const toKey = nodeKey(to);
    const moved = {
      headcount: body.headcount === undefined ? 0 : wholeNumber(body.headcount, 'headcount'),
      tokens: body.tokens === undefined ? 0 : wholeNumber(body.tokens, 'tokens'),
      amount: body.amount === undefined ? '0' : amountOf(body.amount, 'amount'),
    };
    if (moved.headcount === 0 && moved.tokens === 0 && new Dec(moved.amount).isZero()) {
      throw new BillingError(BillingErrorCode.InvalidTransfer, 'A transfer moves some headcount, tokens or amount.', { field: 'amount' });
    }
    if (fromKey === toKey) throw new BillingError(BillingErrorCode.InvalidTransfer, 'A transfer goes from one node to another.', { field: 'to' });
    return this.write(account, async (tx, writes, now, org, acct) => {
      const tree = org.tree;
      for (const [node, field] of [
        [from, 'from'],
        [to, 'to'],
      ] as const) {
        if (!nodeExists(tree, node)) throw nodeNotFound(node, { field });
      }
      const toParent = parentOf(tree, fromKey) === toKey;
      if (!toParent && (fromKey === 'account' || parentOf(tree, toKey) !== parentOf(tree, fromKey))) {
        throw new BillingError(BillingErrorCode.InvalidTransfer, `${toKey} is neither a sibling nor the parent of ${fromKey}.`, { field: 'to' });
      }
      const period = this.periodOf(body.period, acct.fiscal_year_start_month, now, body.period_start);
      const start = dateOnly(period.start);
      const before = await this.budgets.ofPeriod(tx, account, period.kind, start);
      const source = before.find((b) => b.node === fromKey);
      if (!source) throw new BillingError(BillingErrorCode.BudgetNotFound, `${fromKey} has no budget for ${periodKey(period)}.`, { field: 'from', node: fromKey });
      const target = before.find((b) => b.node === toKey) ?? null;
      if (!toParent && !target) throw new BillingError(BillingErrorCode.BudgetNotFound, `${toKey} has no budget for ${periodKey(period)} to receive into.`, { field: 'to', node: toKey });
      const measures = [
        ['headcount', moved.headcount > 0, source.headcount, target?.headcount],
        ['tokens', moved.tokens > 0, source.token_limit, target?.token_limit],
        ['amount', !new Dec(moved.amount).isZero(), source.amount_limit, target?.amount_limit],
      ] as const;
      for (const [measure, moving, has, receives] of measures) {
        if (!moving) continue;
        if (has === null) throw new BillingError(BillingErrorCode.InvalidTransfer, `${fromKey} allocates no ${measure} to move.`, { field: measure === 'tokens' ? 'tokens' : measure, measure });
        if (!toParent && receives === null) {
          throw new BillingError(BillingErrorCode.InvalidTransfer, `${toKey} allocates no ${measure} to receive into.`, { field: measure, measure });
        }
      }
      // Headcount in use is the people in the node now.
      if (moved.headcount > 0) {
        const people = peopleIn(tree, org.people.filter((p) => p.active).map((p) => p.id), fromKey).length;
        const unused = source.headcount! - people;
        if (moved.headcount > unused) {
          throw new BillingError(BillingErrorCode.TransferExceedsUnused, `${fromKey} has ${Math.max(0, unused)} headcount unused (${people} people are in it); ${moved.headcount} cannot move.`, {
            node: fromKey,
            measure: 'headcount',
            unused: String(Math.max(0, unused)),
          });
        }
      }
      const nextSource: BudgetRow = {
        ...source,
        headcount: source.headcount === null ? null : source.headcount - moved.headcount,
        token_limit: source.token_limit === null ? null : String(Number(source.token_limit) - moved.tokens),
        amount_limit: source.amount_limit === null ? null : new Dec(source.amount_limit).minus(moved.amount).toFixed(),
        updated_at: now,
        updated_by: principal.keyId,
      };
      const nextTarget: BudgetRow | null =
        toParent || !target
          ? target
          : {
              ...target,
              headcount: target.headcount === null ? null : target.headcount + moved.headcount,
              token_limit: target.token_limit === null ? null : String(Number(target.token_limit) + moved.tokens),
              amount_limit: target.amount_limit === null ? null : new Dec(target.amount_limit).plus(moved.amount).toFixed(),
              updated_at: now,
              updated_by: principal.keyId,
            };
      // What is unused first: more than that is transfer_exceeds_unused, whatever the allocation below
      // (a transfer past the whole allocation would otherwise read as a negative allocation its children
      // exceed). The counter writes are undone if the allocation check then refuses.
      await this.moveCounters(tx, writes, account, { from, to, period, source, target: toParent ? null : target, moved, now });
      const after = before.map((b) => (b.node === fromKey ? nextSource : b.node === toKey && nextTarget ? nextTarget : b));
      const over = newOverAllocation(tree, before.map(allocationOf), after.map(allocationOf));
      if (over) throw overAllocated(over, period);
      const savedSource = await this.budgets.upsert(tx, account, nextSource);
      const savedTarget = nextTarget && nextTarget !== target ? await this.budgets.upsert(tx, account, nextTarget) : target;
      const view: TransferView = { from: budgetView(savedSource), to: savedTarget && budgetView(savedTarget), moved };
      await this.audit.record(tx, actorOf(principal), {
        action: 'budget.transfer',
        entityType: 'budget',
        entityId: `${fromKey}>${toKey}/${periodKey(period)}`,
        accountId: account,
        before: { from: budgetView(source), to: target && budgetView(target) },
        after: view,
      });
      return view;
    });
  }

  // ---- Steps ----

  /** One budget write: the account's budget lock, its tree, then `work`; counters settle after the commit. */
  private async write<T>(
    account: string,
    work: (tx: Tx, writes: CounterWrite<unknown>[], now: Date, org: Org, acct: { fiscal_year_start_month: number }) => Promise<T>,
  ): Promise<T> {
    const now = this.clock.now();
    const result = await withCounterWrites(
      this.transactions,
      async (tx, writes) => {
        await this.budgets.lockAccount(tx, account);
        const acct = await this.accounts.findAccount(account, tx);
        if (!acct) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
        return work(tx, writes, now, await this.trees.load(tx, account), acct);
      },
      (error) => this.logger.error({ err: error, account }, 'counter update after a budget change failed'),
    );
    this.plans.invalidate(account);
    return result;
  }

  private periodOf(kind: PeriodKind, fiscalYearStartMonth: number, now: Date, start: string | undefined): Period {
    const period = namedPeriod(fiscalYearStartMonth, kind, start, now);
    if (period.end.getTime() <= now.getTime()) {
      throw new BillingError(BillingErrorCode.BudgetPeriodEnded, `The ${periodKey(period)} period has ended; its budgets no longer change.`, { field: 'period_start' });
    }
    return period;
  }

  /** A hard budget's limit on its counter level, refused below what is spent and held there. */
  private async setCounter(tx: Tx, writes: CounterWrite<unknown>[], account: string, node: BudgetNode, period: Period, before: BudgetRow | null, after: BudgetRow | null, now: Date) {
    if (before?.enforcement !== 'hard' && after?.enforcement !== 'hard') return;
    const level = levels.budget(node, period);
    const write = await this.engine.setLimit(tx, account, level, counterLimit(after), now, { belowUsage: after === null || after.enforcement !== 'hard' });
    writes.push(write);
    if (!write.result.ok) {
      const { measure, used } = write.result;
      throw new BillingError(BillingErrorCode.BudgetBelowUsage, `A hard ${measure} limit of ${nodeKey(node)} cannot go below what is spent and held there (${used}).`, {
        node: nodeKey(node),
        measure,
        used,
      });
    }
  }

  /** The counter side of a transfer: one atomic move between two hard levels, else each hard side on its own. */
  private async moveCounters(
    tx: Tx,
    writes: CounterWrite<unknown>[],
    account: string,
    m: { from: BudgetNode; to: BudgetNode; period: Period; source: BudgetRow; target: BudgetRow | null; moved: { tokens: number; amount: string }; now: Date },
  ): Promise<void> {
    const fromLevel = levels.budget(m.from, m.period);
    const quantity = { amount: m.moved.amount, tokens: m.moved.tokens };
    if (quantity.tokens === 0 && new Dec(quantity.amount).isZero()) return;
    const refuse = (measure: 'amount' | 'tokens', unused: string) =>
      new BillingError(
        BillingErrorCode.TransferExceedsUnused,
        `${nodeKey(m.from)} has ${unused} ${measure} unused (its allocation less what is spent and held); ${measure === 'amount' ? quantity.amount : quantity.tokens} cannot move.`,
        { node: nodeKey(m.from), measure, unused },
      );
    if (m.source.enforcement === 'hard' && m.target?.enforcement === 'hard') {
      const write = await this.engine.transfer(tx, account, fromLevel, levels.budget(m.to, m.period), quantity, m.now);
      writes.push(write);
      if (!write.result.ok) throw refuse(write.result.measure, write.result.unused);
      return;
    }
    if (m.source.enforcement === 'hard') {
      const lower = counterLimit({
        ...m.source,
        token_limit: m.source.token_limit === null ? null : String(Number(m.source.token_limit) - quantity.tokens),
        amount_limit: m.source.amount_limit === null ? null : new Dec(m.source.amount_limit).minus(quantity.amount).toFixed(),
      });
      const write = await this.engine.setLimit(tx, account, fromLevel, lower, m.now);
      writes.push(write);
      if (!write.result.ok) {
        const f = write.result.figures;
        throw refuse(write.result.measure, write.result.measure === 'amount' ? (f.left.amount ?? '0') : String(f.left.tokens ?? 0));
      }
    } else {
      // A soft budget has no holds: its unused allocation is its limit less what is spent.
      const spent = (await this.spend.spentOf(tx, account, [fromLevel])).get(fromLevel)!;
      if (m.source.amount_limit !== null && !new Dec(quantity.amount).isZero()) {
        const unused = new Dec(m.source.amount_limit).minus(spent.amount);
        if (new Dec(quantity.amount).greaterThan(unused)) throw refuse('amount', Dec.max(unused, 0).toFixed());
      }
      if (m.source.token_limit !== null && quantity.tokens > 0) {
        const unused = Number(m.source.token_limit) - spent.tokens;
        if (quantity.tokens > unused) throw refuse('tokens', String(Math.max(0, unused)));
      }
    }
    if (m.target?.enforcement === 'hard') {
      const raised = counterLimit({
        ...m.target,
        token_limit: m.target.token_limit === null ? null : String(Number(m.target.token_limit) + quantity.tokens),
        amount_limit: m.target.amount_limit === null ? null : new Dec(m.target.amount_limit).plus(quantity.amount).toFixed(),
      });
      writes.push(await this.engine.setLimit(tx, account, levels.budget(m.to, m.period), raised, m.now, { belowUsage: true }));
    }
  }
}

/** A unit or person the account does not have, named by its id (`person:bob` is person "bob"). */
function nodeNotFound(node: BudgetNode, details: { field?: string }): BillingError {
  const name = node.kind === 'account' ? '' : ` "${node.id}"`;
  return new BillingError(BillingErrorCode.BudgetNodeNotFound, `There is no ${node.kind}${name} in this account.`, { ...details, node: nodeKey(node) });
}
