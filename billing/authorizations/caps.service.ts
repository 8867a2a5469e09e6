// The account's caps: per agent (for a period of the fiscal calendar) and per session by its context
// (`external` sessions usually get less). A cap is the limit of the `agent/...` or `sessioncap/...`
// counter level; changing one moves that counter in the same step and is audited. Caps may be cut below
// what is already spent or held (they stop new holds at once).
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { AuditService } from '../../src/audit/audit.service.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Tx } from '../../src/database/data-source.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { parseDecimal } from '../../tiers/pricing/decimal.js';
import { PricingInputError } from '../../tiers/pricing/pricing-input-error.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import {
  COUNTERS_ENGINE,
  levels,
  periodOf,
  withCounterWrites,
  type CountersEngine,
  type Limit,
  type LimitSource,
  type PeriodKind,
  type SessionContext,
} from './counters.js';
import { CapsRepository, type CapRow, type CapScope } from './caps.repository.js';
import { LimitRegistry } from './limit-registry.js';
import { PathPlans } from './path-plans.js';
import { parseLevel } from './levels.js';
import { TierCaps, tierCapLevels } from './tier-caps.js';

export interface CapBody {
  amount_limit?: string | null;
  token_limit?: number | null;
  period?: PeriodKind;
}

export interface CapView {
  scope: CapScope;
  agent_id?: string;
  session_context?: string;
  period?: PeriodKind;
  amount_limit: string | null;
  token_limit: number | null;
  updated_at: Date;
}

export interface TierCapView {
  tier: string;
  level: string;
  period_start: Date;
  period_end: Date;
  token_limit: number;
  spent_tokens: number;
  held_tokens: number;
  left_tokens: number;
}

export function capView(row: CapRow): CapView {
  return {
    scope: row.scope,
    ...(row.scope === 'agent' ? { agent_id: row.subject, period: row.period_kind! } : { session_context: row.subject }),
    amount_limit: row.amount_limit,
    token_limit: row.token_limit === null ? null : Number(row.token_limit),
    updated_at: row.updated_at,
  };
}

function limitOf(body: CapBody): Limit {
  let amount: string | null = null;
  if (body.amount_limit !== undefined && body.amount_limit !== null) {
    try {
      amount = parseDecimal(body.amount_limit, 'amount_limit').toFixed();
    } catch (error) {
      if (error instanceof PricingInputError) throw new BillingError(BillingErrorCode.InvalidCap, `amount_limit: ${error.message}.`, { field: 'amount_limit' });
      throw error;
    }
  }
  const tokens = body.token_limit ?? null;
  if (amount === null && tokens === null) {
    throw new BillingError(BillingErrorCode.InvalidCap, 'A cap needs amount_limit, token_limit or both.', { field: 'amount_limit' });
  }
  return { amount, tokens };
}

@Injectable()
export class CapsService implements LimitSource, OnModuleInit {
  readonly kinds = ['agent', 'sessioncap'] as const;
  private readonly logger = new Logger('authorizations');

  constructor(
    private readonly caps: CapsRepository,
    private readonly accounts: AccountsRepository,
    private readonly registry: LimitRegistry,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    private readonly plans: PathPlans,
    private readonly tierCaps: TierCaps,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  async limits(db: Db, account: string, list: readonly string[]): Promise<Map<string, Limit>> {
    const parsed = list.map((l) => ({ level: l, p: parseLevel(l) }));
    const agents = parsed.flatMap(({ p }) => (p.kind === 'agent' ? [p.agentId] : []));
    const contexts = parsed.flatMap(({ p }) => (p.kind === 'sessioncap' ? [p.context] : []));
    const rows = [
      ...(agents.length ? await this.caps.findMany(db, account, 'agent', agents) : []),
      ...(contexts.length ? await this.caps.findMany(db, account, 'session', contexts) : []),
    ];
    const out = new Map<string, Limit>();
    for (const { level, p } of parsed) {
      const row = rows.find((r) =>
        p.kind === 'agent' ? r.scope === 'agent' && r.subject === p.agentId && r.period_kind === p.period.kind : p.kind === 'sessioncap' && r.scope === 'session' && r.subject === p.context,
      );
      if (row) out.set(level, { amount: row.amount_limit, tokens: row.token_limit === null ? null : Number(row.token_limit) });
    }
    return out;
  }

  async list(account: string): Promise<CapView[]> {
    return (await this.caps.list(account)).map(capView);
  }

  /** The plan's capped tiers now, with their counters' figures (the levels a hold of such a model names). */
  async tiers(account: string): Promise<TierCapView[]> {
    if (!(await this.accounts.findAccount(account))) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    const now = this.clock.now();
    const tiers = tierCapLevels(await this.tierCaps.terms(this.dataSource, account), now);
    if (tiers === null) return [];
    const figures = await this.engine.read(account, [...tiers.byTier.values()], now);
    return [...tiers.byTier.keys()].map((tier, i) => {
      const f = figures[i]!;
      return {
        tier,
        level: f.level,
        period_start: tiers.period.start,
        period_end: tiers.period.end,
        token_limit: f.limit.tokens!,
        spent_tokens: f.spent.tokens,
        held_tokens: f.held.tokens,
        left_tokens: f.left.tokens!,
      };
    });
  }

  async putAgentCap(principal: Principal, account: string, agentId: string, body: CapBody): Promise<CapView> {
    const limit = limitOf(body);
    const period = body.period ?? 'month';
    return this.change(principal, account, 'agent', agentId, async (tx) => {
      if (!(await this.accounts.findAgent(account, agentId, tx))) {
        throw new BillingError(BillingErrorCode.AgentNotFound, `Agent "${agentId}" was not found.`, { field: 'agent' });
      }
      return { period, limit };
    });
  }

  putSessionCap(principal: Principal, account: string, context: SessionContext, body: CapBody): Promise<CapView> {
    if (body.period !== undefined) throw new BillingError(BillingErrorCode.InvalidCap, 'A session cap has no period: it caps each session.', { field: 'period' });
    const limit = limitOf(body);
    return this.change(principal, account, 'session', context, async () => ({ period: null, limit }));
  }

  async remove(principal: Principal, account: string, scope: CapScope, subject: string): Promise<void> {
    await this.change(principal, account, scope, subject, async () => null);
  }

  /** One audited change of a cap and of its counter level, in one transaction. */
  private async change(
    principal: Principal,
    account: string,
    scope: CapScope,
    subject: string,
    decide: (tx: Tx) => Promise<{ period: PeriodKind | null; limit: Limit } | null>,
  ): Promise<CapView> {
    const now = this.clock.now();
    const view = await withCounterWrites(
      this.transactions,
      async (tx, writes) => {
        const acct = await this.accounts.findAccount(account, tx);
        if (!acct) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
        const before = await this.caps.find(tx, account, scope, subject, true);
        const next = await decide(tx);
        if (next === null && before === null) throw new BillingError(BillingErrorCode.CapNotFound, `There is no such cap.`);
        const after = next
          ? await this.caps.upsert(tx, account, {
              scope,
              subject,
              period_kind: next.period,
              amount_limit: next.limit.amount,
              token_limit: next.limit.tokens === null ? null : String(next.limit.tokens),
              updated_at: now,
              updated_by: principal.keyId,
            })
          : await this.caps.delete(tx, account, scope, subject);
        // The counter of the current period takes the new limit now; other periods load it when they start.
        const levelOf = (row: CapRow) =>
          scope === 'agent' ? levels.agent(subject, periodOf(row.period_kind!, acct.fiscal_year_start_month, now)) : levels.sessionCap(subject as SessionContext);
        if (before && (!next || before.period_kind !== next.period)) {
          writes.push(await this.engine.setLimit(tx, account, levelOf(before), { amount: null, tokens: null }, now, { belowUsage: true }));
        }
        if (next) writes.push(await this.engine.setLimit(tx, account, levelOf(after!), next.limit, now, { belowUsage: true }));
        await this.audit.record(tx, actorOf(principal), {
          action: next ? 'authorization_cap.set' : 'authorization_cap.delete',
          entityType: 'authorization_cap',
          entityId: `${scope}:${subject}`,
          accountId: account,
          before: before && capView(before),
          after: next ? capView(after!) : null,
        });
        return capView(after!);
      },
      (error) => this.logger.error({ err: error, account }, 'counter update after a cap change failed'),
    );
    this.plans.invalidate(account);
    return view;
  }
}
