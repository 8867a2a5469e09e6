// Plans: every PUT publishes a new version, kept forever; a rollback publishes an exact copy of an older
// version as the newest. A plan's currency never changes, so "follow latest" subscriptions stay valid.
import { Inject, Injectable } from '@nestjs/common';
import { closestMatch } from 'leven';
import { AuditService } from '../../src/audit/audit.service.js';
import { type Actor, isOperator, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import type { Db } from '../../src/database/sql.js';
import { TransactionRunner } from '../../src/database/transactions.js';
import { TiersError, TiersErrorCode as Code, validated } from '../tiers.errors.js';
import { SubscriptionsRepository } from '../subscriptions/subscriptions.repository.js';
import { duplicatePackId, validatePlanTerms, type PlanVersionTerms } from './plan-terms.js';
import { PlansRepository, type PlanSummary, type PlanVersion } from './plans.repository.js';
import type { PutPlanBody } from './plans.schemas.js';
import { versionInForceAt } from './version-in-force.js';

/** A stored version as the terms the period maths reads. */
export function termsOf(v: PlanVersion): PlanVersionTerms {
  return {
    name: v.name,
    currency: v.currency,
    base_fee: v.base_fee,
    waive_base_fee_for_paid_enterprise: v.waive_base_fee_for_paid_enterprise,
    included_allowance: v.included_allowance,
    overage_policy: v.overage_policy,
    topup_packs: v.topup_packs,
    tier_caps: v.tier_caps,
    ineffective_credit_pct: v.ineffective_credit_pct,
    invoice_grace_minutes: v.invoice_grace_minutes,
    ...(v.volume_discount === null ? {} : { volume_discount: v.volume_discount }),
  };
}

@Injectable()
export class PlansService {
  constructor(
    private readonly repository: PlansRepository,
    private readonly subscriptions: SubscriptionsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  publish(actor: Actor, planId: string, body: PutPlanBody): Promise<PlanVersion> {
    const terms = validated(() => validatePlanTerms(body));
    const dup = duplicatePackId(terms.topup_packs);
    if (dup !== null) {
      throw new TiersError(Code.DuplicateTopupPack, `Top-up pack id "${dup}" appears twice.`, { field: 'topup_packs' });
    }
    return this.transactions.run(async (tx) => {
      const now = this.clock.now();
      const plan = await this.repository.lockPlan(tx, planId, now);
      const before = plan.latest_version > 0 ? await this.repository.findVersion(planId, plan.latest_version, tx) : null;
      if (before && before.currency !== terms.currency) {
        throw new TiersError(
          Code.PlanCurrencyChange,
          `Plan "${planId}" is in ${before.currency}; a version cannot change its currency. Create a new plan instead.`,
          { field: 'currency' },
        );
      }
      const after = await this.repository.insertVersion(tx, planId, plan.latest_version + 1, terms, now, actor.keyId);
      await this.repository.setLatest(tx, planId, after.version);
      await this.audit.record(tx, actor, {
        action: before ? 'plan.version' : 'plan.create',
        entityType: 'plan',
        entityId: planId,
        accountId: null,
        before,
        after,
      });
      return after;
    });
  }

  rollback(actor: Actor, planId: string, version: number): Promise<PlanVersion> {
    return this.transactions.run(async (tx) => {
      const plan = await this.repository.findPlanForUpdate(tx, planId);
      if (!plan || plan.latest_version === 0) throw this.planNotFound(planId);
      const before = await this.repository.findVersion(planId, plan.latest_version, tx);
      const after = await this.repository.copyVersion(tx, planId, version, plan.latest_version + 1, this.clock.now(), actor.keyId);
      if (!after) {
        throw new TiersError(Code.PlanVersionNotFound, `Plan "${planId}" has no version ${version}.`, { field: 'version' });
      }
      await this.repository.setLatest(tx, planId, after.version);
      await this.audit.record(tx, actor, {
        action: 'plan.rollback',
        entityType: 'plan',
        entityId: planId,
        accountId: null,
        before,
        after,
      });
      return after;
    });
  }

  listPlans(after: string | null, limit: number): Promise<PlanSummary[]> {
    return this.repository.listPlans(after, limit);
  }

  async latest(principal: Principal, planId: string): Promise<PlanVersion> {
    await this.assertCanRead(principal, planId);
    const v = await this.repository.findLatest(planId);
    if (!v) throw this.planNotFound(planId);
    return v;
  }

  async versions(principal: Principal, planId: string): Promise<PlanVersion[]> {
    await this.assertCanRead(principal, planId);
    const all = await this.repository.listVersions(planId);
    if (all.length === 0) throw this.planNotFound(planId);
    return all;
  }

  async version(principal: Principal, planId: string, version: number): Promise<PlanVersion> {
    await this.assertCanRead(principal, planId);
    const v = await this.repository.findVersion(planId, version);
    if (!v) throw new TiersError(Code.PlanVersionNotFound, `Plan "${planId}" has no version ${version}.`);
    return v;
  }

  /** The published plan an unknown id was probably meant to be (for an operator's error: plans are not per account). */
  async nearest(planId: string, db?: Db): Promise<string | undefined> {
    const most = Math.min(3, Math.ceil(planId.length / 3));
    return closestMatch(planId, await this.repository.planIdsNear(planId.length, most, db), { maxDistance: most });
  }

  /** The version a subscription is billed on now: its pinned one, or the plan's latest. */
  async resolve(planId: string, pinned: number | null, db?: Db): Promise<PlanVersion | null> {
    return pinned === null ? this.repository.findLatest(planId, db) : this.repository.findVersion(planId, pinned, db);
  }

  /**
   * The version a subscription was on at `at`: its pinned one, or the plan's version in force then
   * (version-in-force.ts). The pin itself is not historised: it is read as it is now.
   */
  async resolveAt(planId: string, pinned: number | null, at: Date, db?: Db): Promise<PlanVersion | null> {
    return pinned === null ? versionInForceAt(await this.repository.listVersions(planId, db), at) : this.repository.findVersion(planId, pinned, db);
  }

  /** Customers see only the plan their own account subscribes to; any other plan is a 404, not a 403. */
  private async assertCanRead(principal: Principal, planId: string): Promise<void> {
    if (isOperator(principal)) return;
    const sub = principal.accountId === null ? null : await this.subscriptions.find(principal.accountId);
    if (sub?.plan_id !== planId) throw this.planNotFound(planId);
  }

  private planNotFound(planId: string): TiersError {
    return new TiersError(Code.PlanNotFound, `Plan "${planId}" was not found.`);
  }
}
