// A plan's per-tier token caps (PRODUCT.md section 3: "optional per-tier token caps"; the subscription's
// effective terms, overrides included) as counter levels: each capped tier of the account's plan is a
// level `tier/<tier>/<period start>/<cap>` for the billing period holding the instant, whose limit is the
// cap in whole tokens (no amount) and whose spend is the account's tokens of that tier in the period (the
// rollups: every event of a model of that tier, whoever made it). A hold whose estimate names a model is
// held against its tier's level; an event's tokens are added to its tier's level. The cap is part of the
// level's name, so when sales changes it mid-period (a new plan version, an override) every process and
// both engines move to a fresh counter loaded from the events, and no cached limit can outlive the change;
// holds in flight on the old counter are not carried over (they end with their commit or expiry).
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Db } from '../../src/database/sql.js';
import type { TierCaps as Caps } from '../../tiers/plans/plan-terms.js';
import { billingPeriod, type BillingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { levels, type Limit, type LimitSource } from './counters.js';
import { parseLevel } from './levels.js';
import { LimitRegistry } from './limit-registry.js';

/** What the levels of an account's tier caps are made from: its billing anchor and its plan's caps. */
export interface TierCapTerms {
  anchorDay: number;
  caps: Caps;
}

export interface TierCapLevels {
  /** Tier to its level, for the capped tiers only. */
  byTier: ReadonlyMap<string, string>;
  /** The billing period the levels are of. */
  period: BillingPeriod;
}

/** The levels of these caps for the billing period holding `at` (none when no tier is capped). */
export function tierCapLevels(terms: TierCapTerms | null, at: Date): TierCapLevels | null {
  if (terms === null) return null;
  const capped = Object.entries(terms.caps).filter((e): e is [string, number] => e[1] !== undefined);
  if (capped.length === 0) return null;
  const period = billingPeriod(terms.anchorDay, at);
  return { byTier: new Map(capped.map(([tier, cap]) => [tier, levels.tier(tier, period.start, cap)])), period };
}

@Injectable()
export class TierCaps implements LimitSource, OnModuleInit {
  readonly kinds = ['tier'] as const;

  constructor(
    private readonly registry: LimitRegistry,
    private readonly subscriptions: SubscriptionsService,
  ) {}

  onModuleInit(): void {
    this.registry.register(this);
  }

  /** The level names its limit: the cap, in tokens. */
  limits(_db: Db, _account: string, wanted: readonly string[]): Promise<Map<string, Limit>> {
    const out = new Map<string, Limit>();
    for (const level of wanted) {
      const parsed = parseLevel(level);
      if (parsed.kind === 'tier') out.set(level, { amount: null, tokens: parsed.cap });
    }
    return Promise.resolve(out);
  }

  /** The account's anchor and tier caps now (read through `db`), or null without a subscription or caps. */
  async terms(db: Db, account: string): Promise<TierCapTerms | null> {
    const billing = await this.subscriptions.billingContext(account, db);
    const caps = billing?.terms.tier_caps ?? null;
    return billing === null || caps === null ? null : { anchorDay: billing.anchor_day, caps };
  }
}
