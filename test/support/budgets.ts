// Budgets for authorization tests. `putBudget` sets one through the real route (billing/budgets), by its
// counter level. The stand-in below is kept for tests that need limits no real budget may have (random
// limits on every level, children allocated more than their parent): a raw table of budgets by counter
// level and the two ports over it, registered after (so instead of) the real module's. `setBudget`
// changes such a budget the way the real module does: the row and its counter in one step.
import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuthorizationsModule } from '../../billing/authorizations/authorizations.module.js';
import {
  COUNTERS_ENGINE,
  withCounterWrites,
  type BudgetNode,
  type CountersEngine,
  type HardBudgetsPort,
  type Limit,
  type LimitSource,
} from '../../billing/authorizations/counters.js';
import { candidateBudgetLevels } from '../../billing/authorizations/levels.js';
import { LimitRegistry } from '../../billing/authorizations/limit-registry.js';
import { PathPlans } from '../../billing/authorizations/path-plans.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import type { TestApp } from './test-app.js';
import { parseLevel } from '../../billing/authorizations/levels.js';

/** Sets the budget of a counter level (`budget/<node>/<kind>:<start>`) through PUT /v1/accounts/:account/budgets/:node. */
export async function putBudget(t: TestApp, account: string, level: string, limit: Partial<Limit>, enforcement: 'hard' | 'soft' = 'hard'): Promise<void> {
  const parsed = parseLevel(level);
  if (parsed.kind !== 'budget') throw new Error(`not a budget level: ${level}`);
  const node = parsed.node.kind === 'account' ? 'account' : `${parsed.node.kind}:${parsed.node.id}`;
  const res = await t.request('PUT', `/v1/accounts/${account}/budgets/${node}`, {
    body: {
      period: parsed.period.kind,
      period_start: parsed.period.start.toISOString().slice(0, 10),
      amount_limit: limit.amount ?? null,
      token_limit: limit.tokens ?? null,
      enforcement,
    },
  });
  if (res.status !== 200) throw new Error(`putBudget ${level}: ${res.status} ${res.text}`);
}

@Injectable()
export class TestBudgets implements LimitSource, HardBudgetsPort, OnModuleInit {
  readonly kinds = ['budget'] as const;

  constructor(
    private readonly registry: LimitRegistry,
    private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.dataSource.query(`CREATE TABLE IF NOT EXISTS test_budgets (
      account_id text NOT NULL, level text NOT NULL, amount_limit numeric, token_limit bigint,
      enforcement text NOT NULL, PRIMARY KEY (account_id, level))`);
    this.registry.register(this);
    this.registry.registerHardBudgets(this);
  }

  async limits(db: Db, account: string, levels: readonly string[]): Promise<Map<string, Limit>> {
    const rows = (await db.query(
      `SELECT level, amount_limit::text AS amount, token_limit::text AS tokens FROM test_budgets
        WHERE account_id = $1 AND level = ANY($2::text[]) AND enforcement = 'hard'`,
      [account, levels],
    )) as { level: string; amount: string | null; tokens: string | null }[];
    return new Map(rows.map((r) => [r.level, { amount: r.amount, tokens: r.tokens === null ? null : Number(r.tokens) }]));
  }

  async hardLevels(db: Db, account: string, nodes: readonly BudgetNode[], at: Date): Promise<string[]> {
    const [{ month }] = (await db.query('SELECT fiscal_year_start_month AS month FROM accounts WHERE id = $1', [account])) as { month: number }[];
    const candidates = candidateBudgetLevels(nodes, month!, at);
    const rows = (await db.query(`SELECT level FROM test_budgets WHERE account_id = $1 AND level = ANY($2::text[]) AND enforcement = 'hard'`, [
      account,
      candidates,
    ])) as { level: string }[];
    const found = new Set(rows.map((r) => r.level));
    return candidates.filter((l) => found.has(l));
  }
}

@Module({ imports: [AuthorizationsModule], providers: [TestBudgets] })
export class TestBudgetsModule {}

/** Creates or changes a budget (hard unless said) and its counter, as the budgets module will. */
export async function setBudget(
  t: TestApp,
  account: string,
  level: string,
  limit: Partial<Limit>,
  enforcement: 'hard' | 'soft' = 'hard',
): Promise<void> {
  const engine = t.app.get<CountersEngine>(COUNTERS_ENGINE);
  const clock = t.app.get<Clock>(CLOCK);
  const full: Limit = { amount: limit.amount ?? null, tokens: limit.tokens ?? null };
  await withCounterWrites(
    t.app.get(TransactionRunner),
    async (tx, writes) => {
      await tx.query(
        `INSERT INTO test_budgets (account_id, level, amount_limit, token_limit, enforcement) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, level) DO UPDATE SET amount_limit = $3, token_limit = $4, enforcement = $5`,
        [account, level, full.amount, full.tokens, enforcement],
      );
      const counted = enforcement === 'hard' ? full : { amount: null, tokens: null };
      const write = await engine.setLimit(tx, account, level, counted, clock.now(), { belowUsage: true });
      writes.push(write);
    },
    (error) => {
      throw error;
    },
  );
  t.app.get(PathPlans).invalidate(account);
}

