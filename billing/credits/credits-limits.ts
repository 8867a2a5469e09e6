// The `credits` level of authorization: when the account's plan blocks overage, every hold is also held
// against the credit balance (the grants in force, less usage metered but not yet booked); when it bills
// overage, holds never name the level.
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Db } from '../../src/database/sql.js';
import { Dec } from '../../tiers/pricing/decimal.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { levels, type AccountLevelsPort, type Limit, type LimitSource } from '../authorizations/counters.js';
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
    const available = await this.ledger.available(db, account, now);
    out.set(levels.credits(), { amount: Dec.max(0, available).toFixed(), tokens: null });
    return out;
  }

  async accountLevels(db: Db, account: string): Promise<string[]> {
    const billing = await this.subscriptions.billingContext(account, db);
    return billing?.terms.overage_policy === 'block' ? [levels.credits()] : [];
  }
}
