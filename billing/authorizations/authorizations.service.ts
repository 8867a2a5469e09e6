// POST /v1/authorizations and DELETE /v1/authorizations/:id, top to bottom: who is asking, what the
// estimate costs (priced tokens, an amount, or `auto` from the agent's own recent events), which levels
// it is held against (PathPlans, and the plan's cap on the model's tier), one atomic hold through the
// counters engine, and the answer.
import { Inject, Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { DataSource } from 'typeorm';
import type { Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { RequestError } from '../../src/http/domain-error.js';
import { parseDecimal } from '../../tiers/pricing/decimal.js';
import { PricingCacheService } from '../../tiers/pricing/pricing-cache.service.js';
import { PricingInputError } from '../../tiers/pricing/pricing-input-error.js';
import { validateUsage, type CanonicalUsage } from '../../tiers/pricing/pricing.js';
import { BillingError, BillingErrorCode } from '../billing.errors.js';
import { EXACT_SCALE, fromScaledInteger, plainAmountText, toScaledInteger } from './counter-math.js';
import { COUNTERS_ENGINE, levels, levelKind, type CountersEngine, type HoldResult, type LevelFigures, type SessionContext } from './counters.js';
import { PathPlans } from './path-plans.js';
import { committable, newReservationId } from './reservation-rules.js';
import { SpendRepository } from './spend.repository.js';

export interface AuthorizeBody {
  model?: string;
  usage?: Partial<CanonicalUsage>;
  amount?: string;
  tokens?: number;
  estimate?: 'auto';
  operation?: string;
  session_id?: string;
  session_context?: SessionContext;
  expires_in_seconds?: number;
}

/** The largest estimate one authorization may hold: more is a mistake, not a plan. */
export const MAX_ESTIMATE_AMOUNT = '100000';
export const MAX_ESTIMATE_TOKENS = 1_000_000_000;
export const DEFAULT_EXPIRY_SECONDS = 600;
const MAX_ESTIMATE_SCALED = toScaledInteger(MAX_ESTIMATE_AMOUNT, EXACT_SCALE, 'exact');

/** `auto`: the 95th percentile (nearest rank) of the agent's last AUTO_EVENTS priced events of that operation and model within AUTO_DAYS. */
export const AUTO_EVENTS = 50;
export const AUTO_DAYS = 7;
const AUTO_SCAN = 2000;
const AUTO_CACHE_MS = 10_000;

export interface Estimate {
  amount: string;
  tokens: number;
  source: 'usage' | 'amount' | 'auto';
  model: string | null;
  /** The model's tier, whose cap in the plan (if any) the hold is held against too; null without a model. */
  tier: string | null;
  /** auto: how many events it was sized from. */
  events?: number;
}

export interface LevelView {
  level: string;
  kind: string;
  limit: { amount: string | null; tokens: number | null };
  spent: { amount: string; tokens: number };
  held: { amount: string; tokens: number };
  left: { amount: string | null; tokens: number | null };
}

export type AuthorizationView =
  | { allowed: true; reservation_id: string; expires_at: string; estimate: Estimate; levels: LevelView[] }
  | { allowed: false; denied_by: { level: string; measure: 'amount' | 'tokens'; short_by: string }; estimate: Estimate; levels: LevelView[] };

const levelView = (f: LevelFigures): LevelView => ({ level: f.level, kind: levelKind(f.level), limit: f.limit, spent: f.spent, held: f.held, left: f.left });

/** Nearest-rank percentile of exact values (bigints), p in 0..100. */
export function nearestRank(values: readonly bigint[], p: number): bigint {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function estimateError(error: unknown, field: string): never {
  if (error instanceof PricingInputError) {
    throw new BillingError(BillingErrorCode.InvalidEstimate, `${error.message}.`, { field: error.field.startsWith('usage') ? error.field : field });
  }
  throw error;
}

@Injectable()
export class AuthorizationsService {
  private readonly autoCache = new Map<string, { estimate: Estimate; until: number }>();

  constructor(
    @Inject(COUNTERS_ENGINE) private readonly engine: CountersEngine,
    private readonly plans: PathPlans,
    private readonly pricing: PricingCacheService,
    private readonly spend: SpendRepository,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async authorize(principal: Principal, body: AuthorizeBody): Promise<AuthorizationView> {
    const { account, personId, agentId } = who(principal);
    // A context names a session's kind; without the session there is nothing to cap, and the hold would
    // silently skip the context's session cap.
    if (body.session_context !== undefined && body.session_id === undefined) {
      throw new RequestError('missing_field', 'Field "session_id" is required with "session_context": the context\'s cap applies to each session.', { field: 'session_id' });
    }
    const now = this.clock.now();
    const estimate = await this.estimate(account, agentId, body, now);
    const plan = await this.plans.plan(account, personId, agentId, now);
    if (!plan) throw new BillingError(BillingErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    const context = body.session_context ?? 'internal';
    const tierLevel = estimate.tier === null ? undefined : plan.tierLevels.get(estimate.tier);
    const path = tierLevel === undefined ? plan.levels : [...plan.levels, tierLevel];
    const held = body.session_id !== undefined && plan.sessionCaps.has(context) ? [...path, levels.session(context, body.session_id)] : path;
    const result: HoldResult = await this.engine.hold(account, {
      reservationId: newReservationId(),
      levels: held,
      estimate: { amount: estimate.amount, tokens: estimate.tokens },
      expiresAt: new Date(now.getTime() + (body.expires_in_seconds ?? DEFAULT_EXPIRY_SECONDS) * 1000),
      agentId,
      personId,
      session: body.session_id === undefined ? null : { id: body.session_id, context },
      detail: { ...estimate, operation: body.operation ?? null },
      now,
    });
    if (!result.allowed) {
      return {
        allowed: false,
        denied_by: { level: result.deniedBy, measure: result.measure, short_by: result.shortBy },
        estimate,
        levels: result.levels.map(levelView),
      };
    }
    return {
      allowed: true,
      reservation_id: result.reservationId,
      expires_at: result.expiresAt.toISOString(),
      estimate,
      levels: result.levels.map(levelView),
    };
  }

  async release(principal: Principal, id: string): Promise<{ reservation_id: string; status: 'released' | 'expired' }> {
    const { account, personId, agentId } = who(principal);
    // A budget lease's own reservation (hold-leases.ts) is not the caller's to release.
    const result = committable(id) ? await this.engine.release(account, id, { agentId, personId }, this.clock.now()) : 'unknown';
    switch (result) {
      case 'unknown':
        throw new BillingError(BillingErrorCode.ReservationNotFound, `Reservation "${id}" was not found.`, { field: 'id' });
      case 'already_committed':
        throw new BillingError(BillingErrorCode.ReservationCommitted, `Reservation "${id}" was already committed by an event.`, { field: 'id' });
      case 'expired':
        return { reservation_id: id, status: 'expired' };
      default:
        return { reservation_id: id, status: 'released' };
    }
  }

  private async estimate(account: string, agentId: string | null, body: AuthorizeBody, now: Date): Promise<Estimate> {
    const given = [body.usage !== undefined, body.amount !== undefined, body.estimate === 'auto'].filter(Boolean).length;
    if (given !== 1) {
      throw new BillingError(BillingErrorCode.InvalidEstimate, 'Send exactly one estimate: "usage" (tokens by kind, with "model"), "amount", or "estimate": "auto" (with "model").', {
        field: 'estimate',
      });
    }
    if (body.tokens !== undefined && body.amount === undefined) {
      throw new BillingError(BillingErrorCode.InvalidEstimate, '"tokens" goes with "amount"; with "usage" the tokens are counted from it, with "estimate": "auto" from the agent\'s events.', { field: 'tokens' });
    }
    if (body.amount !== undefined) {
      const estimate = this.checked({ amount: this.amount(body.amount), tokens: body.tokens ?? 0, source: 'amount', model: null, tier: null }, 'amount');
      if (body.model === undefined) return estimate;
      // A model named beside an amount is recorded with the hold: it must be one the catalog knows (by id or
      // alias; the catalog's id is kept), as it must with the other estimates.
      const { model } = await this.pricing.lookup(body.model, now);
      if (model === null) throw new BillingError(BillingErrorCode.UnknownModel, `Model "${body.model}" is not in the catalog.`, { field: 'model' });
      return { ...estimate, model: model.id, tier: model.tier };
    }
    if (body.model === undefined) throw new RequestError('missing_field', 'Field "model" is required with this estimate.', { field: 'model' });
    if (body.usage !== undefined) {
      let usage: CanonicalUsage;
      try {
        usage = validateUsage(body.usage);
      } catch (error) {
        estimateError(error, 'usage');
      }
      const tokens = usage.input + usage.cached_input + usage.cache_write + usage.output;
      if (tokens > MAX_ESTIMATE_TOKENS) {
        throw new BillingError(BillingErrorCode.EstimateTooLarge, `An estimate holds at most ${MAX_ESTIMATE_TOKENS} tokens; this one has ${tokens}.`, { field: 'usage' });
      }
      const priced = (await this.pricing.pricer())(usage, body.model, now);
      if (priced.status === 'unknown_model') throw new BillingError(BillingErrorCode.UnknownModel, `Model "${body.model}" is not in the catalog.`, { field: 'model' });
      if (priced.status === 'no_price_book') throw new BillingError(BillingErrorCode.NoPriceBook, 'No price book is in force yet: the estimate cannot be priced.', { field: 'model' });
      return this.checked({ amount: plain(priced.priced.total), tokens, source: 'usage', model: priced.model.id, tier: priced.model.tier }, 'usage');
    }
    return this.auto(account, agentId, body.model, body.operation ?? null, now);
  }

  private amount(raw: string): string {
    // The usual amount ("0.0125") without decimal.js; anything else (signs, errors, odd forms) through parseDecimal.
    const plain = plainAmountText(raw);
    if (plain !== null) return plain;
    try {
      return parseDecimal(raw, 'amount', { maxDecimalPlaces: EXACT_SCALE }).toFixed();
    } catch (error) {
      estimateError(error, 'amount');
    }
  }

  private checked(estimate: Estimate, field: string): Estimate {
    if (estimate.amount === '0' && estimate.tokens === 0) {
      throw new BillingError(BillingErrorCode.EstimateZero, 'The estimate is zero: there is nothing to hold.', { field });
    }
    if (toScaledInteger(estimate.amount, EXACT_SCALE, 'up') > MAX_ESTIMATE_SCALED) {
      throw new BillingError(BillingErrorCode.EstimateTooLarge, `An estimate holds at most ${MAX_ESTIMATE_AMOUNT}; this one is ${estimate.amount}.`, { field });
    }
    if (estimate.tokens > MAX_ESTIMATE_TOKENS) {
      throw new BillingError(BillingErrorCode.EstimateTooLarge, `An estimate holds at most ${MAX_ESTIMATE_TOKENS} tokens.`, { field: 'tokens' });
    }
    return estimate;
  }

  /** The agent's own p95 cost (and tokens) for this operation and model, cached for a few seconds. */
  private async auto(account: string, agentId: string | null, model: string, operation: string | null, now: Date): Promise<Estimate> {
    if (agentId === null) {
      throw new BillingError(BillingErrorCode.InvalidEstimate, '"estimate": "auto" sizes from an agent\'s own events: use an agent key.', { field: 'estimate' });
    }
    const lookup = await this.pricing.lookup(model, now);
    if (!lookup.model) throw new BillingError(BillingErrorCode.UnknownModel, `Model "${model}" is not in the catalog.`, { field: 'model' });
    const key = `${account}\u0000${agentId}\u0000${operation ?? ''}\u0000${lookup.model.id}`;
    const cached = this.autoCache.get(key);
    if (cached && performance.now() < cached.until) return cached.estimate;
    const since = new Date(now.getTime() - AUTO_DAYS * 86_400_000);
    const recent = await this.spend.recentCosts(this.dataSource, account, agentId, operation, lookup.model.id, since, AUTO_EVENTS, AUTO_SCAN);
    if (recent.length === 0) {
      throw new BillingError(
        BillingErrorCode.NoRecentUsage,
        operation === null
          ? `Agent "${agentId}" has no priced events without an operation with model "${lookup.model.id}" in the last ${AUTO_DAYS} days: send "operation" to size from its events of that operation, or "usage" or "amount" instead.`
          : `Agent "${agentId}" has no priced events of operation "${operation}" with model "${lookup.model.id}" in the last ${AUTO_DAYS} days: send "usage" or "amount" instead.`,
        { field: 'estimate' },
      );
    }
    const amount = nearestRank(recent.map((r) => toScaledInteger(r.cost, EXACT_SCALE, 'up')), 95);
    const tokens = nearestRank(recent.map((r) => BigInt(r.tokens)), 95);
    const estimate = this.checked(
      { amount: fromScaledInteger(amount, EXACT_SCALE), tokens: Number(tokens), source: 'auto', model: lookup.model.id, tier: lookup.model.tier, events: recent.length },
      'estimate',
    );
    this.autoCache.set(key, { estimate, until: performance.now() + AUTO_CACHE_MS });
    return estimate;
  }
}

/** A priced total ("0.005750000000") without its trailing zeros. */
function plain(total: string): string {
  return fromScaledInteger(toScaledInteger(total, EXACT_SCALE, 'up'), EXACT_SCALE);
}

function who(p: Principal): { account: string; personId: string; agentId: string | null } {
  if (p.accountId === null || p.personId === null || (p.role !== 'agent' && p.role !== 'member')) {
    throw new RequestError('forbidden', 'Authorizations are asked for with an agent key, or a member key for oneself.', {}, 'forbidden');
  }
  return { account: p.accountId, personId: p.personId, agentId: p.role === 'agent' ? p.agentId : null };
}
