// The service the `budgets` bench phase measures: the API process (src/main.ts) plus a stand-in for the
// budgets module (billing/budgets is being built elsewhere): hard budgets as rows of `bench_budgets` by
// counter level, handed to authorizations through the same two ports the real module will register.
import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuthorizationsModule } from '../../billing/authorizations/authorizations.module.js';
import type { BudgetNode, HardBudgetsPort, Limit, LimitSource } from '../../billing/authorizations/counters.js';
import { candidateBudgetLevels } from '../../billing/authorizations/levels.js';
import { LimitRegistry } from '../../billing/authorizations/limit-registry.js';
import { appLogger, createApp } from '../../src/bootstrap.js';
import { systemClock } from '../../src/clock/clock.js';
import { loadConfig } from '../../src/config/config.js';
import type { Db } from '../../src/database/sql.js';
import { closeOnSignals } from '../../src/lifecycle/shutdown.js';

@Injectable()
class BenchBudgets implements LimitSource, HardBudgetsPort, OnModuleInit {
  readonly kinds = ['budget'] as const;

  constructor(
    private readonly registry: LimitRegistry,
    private readonly dataSource: DataSource,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.dataSource.query(`CREATE TABLE IF NOT EXISTS bench_budgets (
      account_id text NOT NULL, level text NOT NULL, amount_limit numeric, token_limit bigint, PRIMARY KEY (account_id, level))`);
    this.registry.register(this);
    this.registry.registerHardBudgets(this);
  }

  async limits(db: Db, account: string, levels: readonly string[]): Promise<Map<string, Limit>> {
    const rows = (await db.query(
      'SELECT level, amount_limit::text AS amount, token_limit::text AS tokens FROM bench_budgets WHERE account_id = $1 AND level = ANY($2::text[])',
      [account, levels],
    )) as { level: string; amount: string | null; tokens: string | null }[];
    return new Map(rows.map((r) => [r.level, { amount: r.amount, tokens: r.tokens === null ? null : Number(r.tokens) }]));
  }

  async hardLevels(db: Db, account: string, nodes: readonly BudgetNode[], at: Date): Promise<string[]> {
    const [{ month }] = (await db.query('SELECT fiscal_year_start_month AS month FROM accounts WHERE id = $1', [account])) as { month: number }[];
    const candidates = candidateBudgetLevels(nodes, month!, at);
    const rows = (await db.query('SELECT level FROM bench_budgets WHERE account_id = $1 AND level = ANY($2::text[])', [account, candidates])) as { level: string }[];
    const found = new Set(rows.map((r) => r.level));
    return candidates.filter((l) => found.has(l));
  }
}

@Module({ imports: [AuthorizationsModule], providers: [BenchBudgets] })
class BenchBudgetsModule {}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await createApp({ config, clock: systemClock, role: 'api', extraModules: [BenchBudgetsModule] });
  await app.listen({ port: config.port, host: config.host });
  closeOnSignals(app, appLogger(app).child({ component: 'shutdown' }), config.shutdownTimeoutMs);
}

main().catch((error: unknown) => {
  console.error('tokenmeter bench service: failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
