// The `credits` level of authorization: when the account's plan blocks overage, every hold is also held
// against the credit balance (the grants in force and the period allowance the settle job has not granted
// yet, less usage metered but not yet booked), and ingest adds each event's cost to the level in its write
// (the level is on every path of the account); when it bills overage, holds and events never name the
// level. The ledger owns the level's limit and spend, shaped so that the settle job's booking of that usage
// changes neither (ledger.ts, creditsLevel), but for usage no grant covers, which leaves the spend once
// booked as uncovered: the counter and the ledger agree, and a rebuild from PostgreSQL gives the same figures.
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Db } from '../../src/database/sql.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { levels, type AccountLevelsPort, type Limit, type LimitSource, type Quantity } from '../authorizations/counters.js';
import { LimitRegistry } from '../authorizations/limit-registry.js';
import { CreditLedger } from './credit-ledger.service.js';

@Injectable()
export class CreditsLimits implements LimitSource, AccountLevelsPort, OnModuleInit {
  readonly kinds = ['credits'] as const;

  constructor(
    private readonly registry: LimitRegistry,
    private readonly ledger: CreditLedger,
    private readonly subscriptions: SubscriptionsService,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
    this.registry.registerAccountLevels(this);
  }

  async limits(db: Db, account: string, wanted: readonly string[], now: Date): Promise<Map<string, Limit>> {
    const out = new Map<string, Limit>();
    if (!wanted.includes(levels.credits())) return out;
    const { limit } = await this.level(db, account, now);
    out.set(levels.credits(), { amount: limit.toFixed(), tokens: null });
    return out;
  }

  /** Money only: the level has no token limit, and ingest adds no tokens to it (ingest-counters.ts). */
  async spent(db: Db, account: string, wanted: readonly string[], now: Date): Promise<Map<string, Quantity>> {
    const out = new Map<string, Quantity>();
    if (!wanted.includes(levels.credits())) return out;
    const { spent } = await this.level(db, account, now);
    out.set(levels.credits(), { amount: spent.toFixed(), tokens: 0 });
    return out;
  }

  /** With the period allowance the settle job has not granted yet, so holds can use it from subscribing on. */
  private async level(db: Db, account: string, now: Date) {
    const pending = await this.ledger.pendingAllowance(db, account, await this.subscriptions.billingContext(account, db), now);
    return this.ledger.creditsLevel(db, account, now, pending);
  }

  async accountLevels(db: Db, account: string): Promise<string[]> {
    const billing = await this.subscriptions.billingContext(account, db);
    return billing?.terms.overage_policy === 'block' ? [levels.credits()] : [];
  }
}
