// Owns the one error type of the pricing domain: a machine-readable code plus the path of the bad field,
// so the shells above can answer 4xx with `code` and `field` without parsing messages.

export type PricingErrorCode =
  | 'NOT_A_STRING'
  | 'NOT_DECIMAL'
  | 'NEGATIVE'
  | 'EXPONENT_NOTATION'
  | 'TOO_MANY_DECIMALS'
  | 'INVALID_CURRENCY'
  | 'INVALID_TIMESTAMP'
  | 'INVALID_VERSION'
  | 'INVALID_USAGE'
  | 'INVALID_THRESHOLD'
  | 'INVALID_FLAG'
  | 'INVALID_POLICY'
  | 'INVALID_VOLUME_TIERS'
  | 'PCT_OUT_OF_RANGE'
  | 'NOT_AN_OBJECT'
  | 'MISSING_FIELD'
  | 'UNKNOWN_FIELD'
  | 'UNKNOWN_TIER'
  | 'INVALID_MODEL_ID';

export class PricingInputError extends Error {
  override readonly name = 'PricingInputError';
  readonly code: PricingErrorCode;
  /** Dotted path of the offending value, e.g. `tiers.base.input` or `models["gpt-4o"].output`. */
  readonly field: string;

  constructor(code: PricingErrorCode, field: string, message: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}
