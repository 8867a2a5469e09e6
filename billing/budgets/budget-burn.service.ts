// What each budget in force has burnt: spend rolled up the tree from metering's readings (by the unit at
// each event's time), holds from the counters, people and agents in each node now, the forecast at the
// recent burn rate; and the alerts that burn fires, each once per node and period (stored and emitted as
// webhooks in one transaction). Evaluated after each ingest that lands (debounced per account) and
// whenever budgets or alerts are read.
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { MeterPublisher } from '../../metering/ingest/meter-publisher.js';
import { ReadingsService } from '../../metering/readings/readings.service.js';
import { AccountsRepository, type Account } from '../../src/accounts/accounts.repository.js';
import { isOperator, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { Dec, formatMoney } from '../../tiers/pricing/decimal.js';
import { COUNTERS_ENGINE, levels, periodOf, type CountersEngine, type Period, type PeriodKind } from '../authorizations/counters.js';
import { PathPlans } from '../authorizations/path-plans.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import { WebhookEvents } from '../webhooks/webhook-events.js';
import { alertRoom, ancestry, burnWindowStart, dateOnly, crossedThresholds, forecast, leastRoom, mayFire, peopleIn, rollUp, zeroSpend, type AlertRoom, type Spend, type SpendRow } from './budget-math.js';
import { namedPeriod, parseNodeParam } from './budgets.service.js';
import { alertKey, BudgetsRepository, type AlertRow, type BudgetRow } from './budgets.repository.js';
import { OrgTrees } from './org-trees.js';

const HOUR_MS = 3_600_000;
/** After an ingest lands, alerts of its account are evaluated this much later (one run for a burst). */
export const ALERT_DEBOUNCE_MS = 250;
/**
 * After an evaluation, the ingests of this process that cannot have made an alert fire (their spend within
 * the room the evaluation left, see alertRoom) are not evaluated again, for at most this long: other
 * processes' ingests are not counted here, so their share is picked up by the next full evaluation.
 */
export const ALERT_SKIP_MS = 5_000;

/** What the last evaluation of an account left: its room, until when it holds, and this process's spend published since. */
interface AlertGate {
  room: AlertRoom;
  until: number;
  /** This process's published totals of the account when the evaluation began. */
  base: { amount: number; tokens: number };
}

type Amount = string;

export interface BudgetBurn {
  node: string;
  period: { kind: PeriodKind; start: string; end: string };
  enforcement: 'soft' | 'hard';
  thresholds: number[];
  headcount: { allocated: number | null; people: number };
  agents: number;
  limit: { amount: Amount | null; tokens: number | null };
  spent: { amount: Amount; tokens: number };
  held: { amount: Amount; tokens: number };
  left: { amount: Amount | null; tokens: number | null };
  effective_ratio: number | null;
  per_head: { amount: Amount | null; tokens: number | null };
  forecast: {
    burn_per_day: { amount: Amount; tokens: number };
    amount_at_period_end: Amount;
    tokens_at_period_end: number;
    limit_reached_at: Date | null;
  };
}

/** A listing of budgets, with the period it is of and the service's time it was read at. */
export interface BudgetListing {
  data: BudgetBurn[];
  /** With a period kind asked for: the one in force at `as_of`, or the one its first day named; null when every kind in force is listed. */
  period: { kind: PeriodKind; start: string; end: string } | null;
  /** The service's clock when it was read: what "in force", "ended" and "to come" are measured against. */
  as_of: Date;
}

export interface AlertView {
  id: string;
  node: string;
  period: { kind: PeriodKind; start: string };
  kind: 'threshold' | 'forecast';
  threshold: number | null;
  fired_at: Date;
  data: Record<string, unknown>;
}

export function alertView(row: AlertRow): AlertView {
  return {
    id: row.id,
    node: row.node,
    period: { kind: row.period_kind, start: row.period_start },
    kind: row.kind,
    threshold: row.kind === 'threshold' ? row.threshold : null,
    fired_at: row.fired_at,
    data: row.data,
  };
}

const utc = (day: string) => new Date(`${day}T00:00:00.000Z`);
const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;

@Injectable()
export class BudgetBurnService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('budgets');
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  private readonly gates = new Map<string, AlertGate>();
  /**
   * Per account, the spend of the events this process published (ever), as doubles: compared with a margin
   * that only ever makes an evaluation more likely (see mayHaveFired).
   */
  private readonly published = new Map<string, { amount: number; tokens: number }>();

  constructor(
    private readonly budgets: BudgetsRepository,
    private readonly accounts: AccountsRepository,
    private readonly trees: OrgTrees,
    private readonly readings: ReadingsService,
    private readonly transactions: TransactionRunner,
    private readonly webhooks: WebhookEvents,
    private readonly publisher: MeterPublisher,
    private readonly dataSource: DataSource,
    private readonly plans: PathPlans,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.publisher.onPublished((account, events) => {
      const sum = this.publishedOf(account);
      for (const e of events) {
        if (e.cost !== null) sum.amount += Math.abs(Number(e.cost));
        sum.tokens += Number(e.input) + Number(e.cached_input) + Number(e.cache_write) + Number(e.output) + Number(e.reasoning);
      }
      this.soon(account);
    });
    // Budgets changed here: the room of the last evaluation no longer holds.
    this.plans.onInvalidate((account) => this.gates.delete(account));
  }

  /** Before the database closes: no new evaluation starts, the running ones finish. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    await Promise.allSettled([...this.running]);
  }

  /** Evaluates the account's alerts shortly (once for a burst of ingests). */
  private soon(account: string): void {
    if (this.closed || this.pending.has(account)) return;
    this.pending.set(
      account,
      setTimeout(() => {
        this.pending.delete(account);
        if (!this.mayHaveFired(account)) return;
        const run = this.evaluate(account).catch((error: unknown) => this.logger.error({ err: error, account }, 'budget alerts failed'));
        this.running.add(run);
        void run.finally(() => this.running.delete(run));
      }, ALERT_DEBOUNCE_MS),
    );
  }

  private publishedOf(account: string): { amount: number; tokens: number } {
    let sum = this.published.get(account);
    if (!sum) {
      sum = { amount: 0, tokens: 0 };
      this.published.set(account, sum);
    }
    return sum;
  }

  /** Whether what this process published since the account's last evaluation may have made an alert fire. */
  private mayHaveFired(account: string): boolean {
    const gate = this.gates.get(account);
    if (!gate || this.clock.now().getTime() >= gate.until) return true;
    const sum = this.publishedOf(account);
    // Doubles: the sums' rounding is far below this margin, which can only make an evaluation run.
    if (!Number.isFinite(sum.amount) || !Number.isFinite(sum.tokens)) return true;
    const added = (now: number, then: number) => new Dec(Math.max(0, now - then) * (1 + 1e-9) + 1e-9);
    return mayFire(gate.room, { amount: added(sum.amount, gate.base.amount), tokens: added(sum.tokens, gate.base.tokens) });
  }

  /** What a principal may see: null for all (finance, operators); a member their person and the units above them now. */
  async visibleNodes(principal: Principal, account: string): Promise<string[] | null> {
    if (isOperator(principal) && !(await this.currencyOf(account))) {
      throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    }
    if (principal.role !== 'member') return null;
    const org = await this.trees.load(this.dataSource, account);
    return ancestry(org.tree, `person:${principal.personId}`).filter((k) => k !== 'account');
  }

  /**
   * Budgets in force now with their burn (bringing alerts up to date), as the principal may see them; with
   * `kind`, those of the period of that kind in force now, named in the answer.
   */
  async list(principal: Principal, account: string, kind: PeriodKind | undefined): Promise<BudgetListing> {
    const visible = await this.visibleNodes(principal, account);
    const now = this.clock.now();
    const acct = kind === undefined ? null : await this.accountOf(account);
    const burns = await this.evaluate(account, acct?.currency, now);
    return {
      data: burns.filter((b) => (kind === undefined || b.period.kind === kind) && (visible === null || visible.includes(b.node))),
      period: kind === undefined || acct === null ? null : periodView(periodOf(kind, acct.fiscal_year_start_month, now)),
      as_of: now,
    };
  }

  /**
   * The budgets of one period of the account's fiscal calendar, as the principal may see them: the current
   * period's as `list` gives them; one that has ended with what was spent in it (its forecast is its end:
   * `amount_at_period_end` is what was spent, the burn rate that of its last 7 days, no date the limit is
   * reached); one to come with nothing spent yet (finance allocating ahead). Nothing is held in periods
   * other than the current one, and reading them fires no alert.
   */
  async listPeriod(principal: Principal, account: string, kind: PeriodKind, start: string): Promise<BudgetListing> {
    const visible = await this.visibleNodes(principal, account);
    const acct = await this.accountOf(account);
    const now = this.clock.now();
    const period = namedPeriod(acct.fiscal_year_start_month, kind, start, now);
    const shown = (b: BudgetBurn) => visible === null || visible.includes(b.node);
    const listing = (data: BudgetBurn[]): BudgetListing => ({ data, period: periodView(period), as_of: now });
    if (period.start.getTime() <= now.getTime() && now.getTime() < period.end.getTime()) {
      return listing((await this.evaluate(account, acct.currency, now)).filter((b) => b.period.kind === kind && b.period.start === start && shown(b)));
    }
    const rows = await this.budgets.ofPeriod(this.dataSource, account, kind, start);
    const ended = period.end.getTime() <= now.getTime();
    // Read as at the period's end (everything spent in it) or its start (nothing yet).
    const { burns } = await this.burnWithRoom(account, acct.currency, { rows, at: ended ? period.end : period.start });
    return listing(burns.filter(shown).map((b) => (ended ? { ...b, forecast: { ...b.forecast, limit_reached_at: null } } : b)));
  }

  /**
   * Alerts newest first (brought up to date first), as the principal may see them; with `period`, only those
   * of the period of that kind in force now, or starting on `start` (refused, before anything is evaluated,
   * when it is no first day of such a period).
   */
  async alerts(principal: Principal, account: string, limit: number, period?: { kind: PeriodKind; start?: string }): Promise<AlertView[]> {
    const visible = await this.visibleNodes(principal, account);
    const now = this.clock.now();
    let only: { kind: PeriodKind; start: string } | null = null;
    if (period !== undefined) {
      const { start } = namedPeriod((await this.accountOf(account)).fiscal_year_start_month, period.kind, period.start, now);
      only = { kind: period.kind, start: dateOnly(start) };
    }
    await this.evaluate(account, undefined, now);
    return (await this.budgets.alerts(account, limit, visible, only)).map(alertView);
  }

  /** Every budget in force now (or at `now`, read from the clock by the caller) with its burn, then the alerts it fires (each once). */
  async evaluate(account: string, currency?: string, now?: Date): Promise<BudgetBurn[]> {
    const sum = this.publishedOf(account);
    const base = { amount: sum.amount, tokens: sum.tokens };
    const { burns, room, until } = await this.burnWithRoom(account, currency, undefined, now);
    await this.fire(account, burns);
    // Every alert the figures reach has fired: until more spend than the room comes, none can.
    this.gates.set(account, { room, until, base });
    return burns;
  }

  /** Budgets in force now, with what each has burnt. */
  async burn(account: string, currency?: string): Promise<BudgetBurn[]> {
    return (await this.burnWithRoom(account, currency)).burns;
  }

  /**
   * burn, with the room its alerts have left (see alertRoom) and until when it holds. `other`: the budgets
   * of a period other than the current one, read as at `at` (in that period), with nothing held. `current`:
   * the clock's time the caller read, so that what it answers and this burn agree on what is in force.
   */
  private async burnWithRoom(
    account: string,
    currency?: string,
    other?: { rows: BudgetRow[]; at: Date },
    current?: Date,
  ): Promise<{ burns: BudgetBurn[]; room: AlertRoom; until: number }> {
    const now = other?.at ?? current ?? this.clock.now();
    // The room holds while the burn windows keep their start (the hour) and the budgets in force stay.
    let until = Math.min(now.getTime() + ALERT_SKIP_MS, Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
    const rooms: AlertRoom[] = [];
    const rows = other?.rows ?? (await this.budgets.inForce(account, now));
    if (rows.length === 0) return { burns: [], room: { amount: null, tokens: null }, until };
    const cur = currency ?? (await this.currencyOf(account)) ?? 'EUR';
    const org = await this.trees.load(this.dataSource, account);
    const active = org.people.filter((p) => p.active).map((p) => p.id);
    const agentsOf = new Map<string, number>();
    for (const a of org.agents) if (a.active) agentsOf.set(a.owner_person_id, (agentsOf.get(a.owner_person_id) ?? 0) + 1);

    // One reading per distinct period (and its burn window), rolled up the tree.
    const periods = new Map<string, { spend: Map<string, Spend>; window: Map<string, Spend>; windowStart: Date }>();
    for (const row of rows) {
      const key = `${row.period_kind}:${row.period_start}`;
      if (periods.has(key)) continue;
      const period = { start: utc(row.period_start), end: utc(row.period_end) };
      const windowStart = burnWindowStart(period, now);
      // What is spent up to now (the hour it is in), or in all of another period (none in one to come).
      const upTo = other ? (other.at.getTime() >= period.end.getTime() ? period.end : period.start) : new Date(Math.min(period.end.getTime(), ceilHour(now.getTime() + 1)));
      const spend = upTo.getTime() > period.start.getTime() ? rollUp(org.tree, await this.spendRows(account, period.start, upTo, true)) : new Map<string, Spend>();
      const window = windowStart.getTime() < upTo.getTime() ? rollUp(org.tree, await this.spendRows(account, windowStart, upTo, false)) : new Map<string, Spend>();
      periods.set(key, { spend, window, windowStart });
    }

    const hardLevels = other ? [] : rows.filter((r) => r.enforcement === 'hard').map((r) => levelOf(r));
    const held = new Map((hardLevels.length ? await this.engine.read(account, hardLevels, now) : []).map((f) => [f.level, f.held]));

    const burns = rows.map((row) => {
      const { spend, window, windowStart } = periods.get(`${row.period_kind}:${row.period_start}`)!;
      const spent = spend.get(row.node) ?? zeroSpend();
      const recent = window.get(row.node) ?? zeroSpend();
      const h = held.get(levelOf(row)) ?? { amount: '0', tokens: 0 };
      const people = peopleIn(org.tree, active, row.node);
      const agents = people.reduce((n, p) => n + (agentsOf.get(p) ?? 0), 0);
      const limitAmount = row.amount_limit === null ? null : new Dec(row.amount_limit);
      const limitTokens = row.token_limit === null ? null : Number(row.token_limit);
      const f = forecast({
        now,
        period: { start: utc(row.period_start), end: utc(row.period_end) },
        spent: { amount: spent.amount, tokens: spent.tokens },
        window: { start: windowStart, amount: recent.amount, tokens: recent.tokens },
        limit: { amount: limitAmount, tokens: limitTokens },
      });
      until = Math.min(until, utc(row.period_end).getTime());
      if (limitAmount !== null || limitTokens !== null) {
        rooms.push(
          alertRoom({
            now,
            period: { start: utc(row.period_start), end: utc(row.period_end) },
            spent: { amount: spent.amount, tokens: spent.tokens },
            window: { start: windowStart, amount: recent.amount, tokens: recent.tokens },
            limit: { amount: limitAmount, tokens: limitTokens },
            thresholds: row.thresholds,
            forecastFired: f.limitReachedAt !== null,
          }),
        );
      }
      const ratioDen = spent.effective + spent.ineffective;
      return {
        node: row.node,
        period: { kind: row.period_kind, start: row.period_start, end: row.period_end },
        enforcement: row.enforcement,
        thresholds: row.thresholds,
        headcount: { allocated: row.headcount, people: people.length },
        agents,
        limit: { amount: limitAmount === null ? null : limitAmount.toFixed(), tokens: limitTokens },
        spent: { amount: spent.amount.toFixed(), tokens: spent.tokens },
        held: { amount: new Dec(h.amount).toFixed(), tokens: h.tokens },
        left: {
          amount: limitAmount === null ? null : limitAmount.minus(spent.amount).minus(h.amount).toFixed(),
          tokens: limitTokens === null ? null : limitTokens - spent.tokens - h.tokens,
        },
        effective_ratio: ratioDen === 0 ? null : spent.effective / ratioDen,
        per_head: {
          amount: people.length === 0 ? null : formatMoney(spent.amount.dividedBy(people.length), cur),
          tokens: people.length === 0 ? null : Math.round(spent.tokens / people.length),
        },
        forecast: {
          burn_per_day: { amount: formatMoney(f.rate.amount, cur), tokens: f.rate.tokens.floor().toNumber() },
          amount_at_period_end: formatMoney(f.atEnd.amount, cur),
          tokens_at_period_end: f.atEnd.tokens,
          limit_reached_at: f.limitReachedAt,
        },
      };
    });
    return { burns, room: leastRoom(rooms), until };
  }

  /** Stores the alerts `burns` cross that have not fired yet, and emits their webhooks, in one transaction. */
  private async fire(account: string, burns: readonly BudgetBurn[]): Promise<void> {
    const now = this.clock.now();
    const due: { alert: AlertRow; type: 'budget.threshold_crossed' | 'budget.forecast_exceeded' }[] = [];
    const fired = await this.budgets.firedKeys(this.dataSource, account, [...new Set(burns.map((b) => b.period.start))]);
    for (const b of burns) {
      if (b.limit.amount === null && b.limit.tokens === null) continue;
      const period = `${b.period.kind}:${b.period.start}`;
      const base = { node: b.node, period_kind: b.period.kind, period_start: b.period.start, fired_at: now };
      const figures = { period_end: b.period.end, enforcement: b.enforcement, limit: b.limit, spent: b.spent, held: b.held };
      const crossings = crossedThresholds(
        b.thresholds,
        { amount: new Dec(b.spent.amount), tokens: b.spent.tokens },
        { amount: b.limit.amount === null ? null : new Dec(b.limit.amount), tokens: b.limit.tokens },
      );
      for (const c of crossings) {
        if (fired.has(alertKey(b.node, period, 'threshold', c.threshold))) continue;
        due.push({
          type: 'budget.threshold_crossed',
          alert: { ...base, id: alertId(), kind: 'threshold', threshold: c.threshold, data: { threshold: c.threshold, measure: c.measure, ...figures } },
        });
      }
      const reachedAt = b.forecast.limit_reached_at;
      if (reachedAt !== null && !fired.has(alertKey(b.node, period, 'forecast', 0))) {
        due.push({
          type: 'budget.forecast_exceeded',
          alert: {
            ...base,
            id: alertId(),
            kind: 'forecast',
            threshold: 0,
            data: {
              limit_reached_at: reachedAt.toISOString(),
              amount_at_period_end: b.forecast.amount_at_period_end,
              tokens_at_period_end: b.forecast.tokens_at_period_end,
              ...figures,
            },
          },
        });
      }
    }
    if (due.length === 0) return;
    await this.transactions.run(async (tx) => {
      for (const { alert, type } of due) {
        const row = await this.budgets.fire(tx, account, alert);
        // Another process fired it first: it sent the webhook.
        if (row === null) continue;
        await this.webhooks.emit(tx, account, type, { alert_id: row.id, node: row.node, period: { kind: row.period_kind, start: row.period_start }, ...alert.data });
      }
    });
  }

  private async accountOf(account: string): Promise<Account> {
    const acct = await this.accounts.findAccount(account);
    if (!acct) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    return acct;
  }

  /** The account's currency; null when there is no such account. */
  private async currencyOf(account: string): Promise<string | null> {
    return (await this.accounts.findAccount(account))?.currency ?? null;
  }

  /** Spend by unit and person (the unit at event time) over [from, to), with effective and ineffective tokens when asked. */
  private async spendRows(account: string, from: Date, to: Date, labels: boolean): Promise<SpendRow[]> {
    const reading = await this.readings.sums(account, from, to, labels ? ['unit', 'person', 'label'] : ['unit', 'person']);
    return reading.rows.map((r) => ({
      unit: r.key.unit ?? null,
      person: r.key.person ?? null,
      tokens: r.tokens.total,
      amount: r.cost,
      effective: r.key.label === 'effective' ? r.tokens.total : 0,
      ineffective: r.key.label === 'ineffective' ? r.tokens.total : 0,
    }));
  }
}

const periodView = (p: Period): { kind: PeriodKind; start: string; end: string } => ({ kind: p.kind, start: dateOnly(p.start), end: dateOnly(p.end) });

function levelOf(row: BudgetRow): string {
  return levels.budget(parseNodeParam(row.node), { kind: row.period_kind, start: utc(row.period_start) });
}

function alertId(): string {
  return `bal_${randomBytes(10).toString('hex')}`;
}
