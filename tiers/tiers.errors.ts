// The one error type of the tiers domain (catalog, price books, plans, subscriptions). Bad pricing input
// found by the pure validators (PricingInputError) is translated here, keeping its field path.
import { DomainError, type ErrorDetails, type ErrorKind } from '../src/http/domain-error.js';
import { PricingInputError } from './pricing/pricing-input-error.js';

export enum TiersErrorCode {
  ModelNotFound = 'model_not_found',
  ModelNameConflict = 'model_name_conflict',
  InvalidDecimal = 'invalid_decimal',
  UnknownTier = 'unknown_tier',
  InvalidVolumeDiscount = 'invalid_volume_discount',
  InvalidPricing = 'invalid_pricing',
  EffectiveFromInPast = 'effective_from_in_past',
  PriceBookNotFound = 'price_book_not_found',
  PlanNotFound = 'plan_not_found',
  PlanVersionNotFound = 'plan_version_not_found',
  PlanCurrencyChange = 'plan_currency_change',
  CurrencyMismatch = 'currency_mismatch',
  AccountNotFound = 'account_not_found',
  SubscriptionNotFound = 'subscription_not_found',
  BillingAnchorFixed = 'billing_anchor_fixed',
  DuplicateTopupPack = 'duplicate_topup_pack',
  UnknownPlan = 'unknown_plan',
  UnknownPlanVersion = 'unknown_plan_version',
  UnknownModel = 'unknown_model',
}

const KIND: Record<TiersErrorCode, ErrorKind> = {
  [TiersErrorCode.ModelNotFound]: 'not_found',
  [TiersErrorCode.ModelNameConflict]: 'conflict',
  [TiersErrorCode.InvalidDecimal]: 'invalid',
  [TiersErrorCode.UnknownTier]: 'invalid',
  [TiersErrorCode.InvalidVolumeDiscount]: 'invalid',
  [TiersErrorCode.InvalidPricing]: 'invalid',
  // Well-formed, but it would reprice history: the same body with "correction": true is accepted.
  [TiersErrorCode.EffectiveFromInPast]: 'conflict',
  [TiersErrorCode.PriceBookNotFound]: 'not_found',
  [TiersErrorCode.PlanNotFound]: 'not_found',
  [TiersErrorCode.PlanVersionNotFound]: 'not_found',
  [TiersErrorCode.PlanCurrencyChange]: 'conflict',
  [TiersErrorCode.CurrencyMismatch]: 'invalid',
  [TiersErrorCode.AccountNotFound]: 'not_found',
  [TiersErrorCode.SubscriptionNotFound]: 'not_found',
  // Well-formed, but periods on the new anchor would overlap what was invoiced (billed twice).
  [TiersErrorCode.BillingAnchorFixed]: 'conflict',
  [TiersErrorCode.DuplicateTopupPack]: 'invalid',
  // A plan named in a request body, not in the path: bad input rather than a missing resource.
  [TiersErrorCode.UnknownPlan]: 'invalid',
  [TiersErrorCode.UnknownPlanVersion]: 'invalid',
  // A model named in a price book that the catalog does not have: its rates would never price anything.
  [TiersErrorCode.UnknownModel]: 'invalid',
};

export class TiersError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: TiersErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}

const DECIMAL_CODES = new Set(['NOT_A_STRING', 'NOT_DECIMAL', 'NEGATIVE', 'EXPONENT_NOTATION', 'TOO_MANY_DECIMALS']);

/** A pure validator's error as a 400: `code` groups the failure, `reason` is the validator's own code. */
export function fromPricingInput(error: PricingInputError, prefix = ''): TiersError {
  const code = DECIMAL_CODES.has(error.code)
    ? TiersErrorCode.InvalidDecimal
    : error.code === 'UNKNOWN_TIER'
      ? TiersErrorCode.UnknownTier
      : error.code === 'INVALID_VOLUME_TIERS' || (error.code === 'PCT_OUT_OF_RANGE' && error.field.includes('volume_discount'))
        ? TiersErrorCode.InvalidVolumeDiscount
        : TiersErrorCode.InvalidPricing;
  const field = prefix && !error.field.startsWith(prefix) ? `${prefix}${error.field}` : error.field;
  return new TiersError(code, error.message, { field, reason: error.code.toLowerCase() });
}

/** Runs a pure validation, turning its PricingInputError into a TiersError. */
export function validated<T>(work: () => T, prefix = ''): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof PricingInputError) throw fromPricingInput(error, prefix);
    throw error;
  }
}
