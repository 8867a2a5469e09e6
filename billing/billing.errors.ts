// The one error type of the billing domain (budgets, authorizations, credits; later invoices, Stripe,
// webhooks). Each part adds its codes here; the HTTP filter maps a code's kind to a status.
import { DomainError, type ErrorDetails, type ErrorKind } from '../src/http/domain-error.js';

export enum BillingErrorCode {
  AccountNotFound = 'account_not_found',
  // Outgoing webhooks
  WebhookEndpointNotFound = 'webhook_endpoint_not_found',
  WebhookDeliveryNotFound = 'webhook_delivery_not_found',
  WebhookUrlInvalid = 'webhook_url_invalid',
  WebhookUrlNotAllowed = 'webhook_url_not_allowed',
  WebhookUrlUnresolvable = 'webhook_url_unresolvable',
  WebhookEventTypeUnknown = 'webhook_event_type_unknown',
  WebhookEndpointLimit = 'webhook_endpoint_limit',
  WebhookEndpointDisabled = 'webhook_endpoint_disabled',
  InvalidCursor = 'invalid_cursor',
  // Authorizations
  ReservationNotFound = 'reservation_not_found',
  ReservationCommitted = 'reservation_committed',
  InvalidEstimate = 'invalid_estimate',
  EstimateZero = 'estimate_zero',
  EstimateTooLarge = 'estimate_too_large',
  UnknownModel = 'unknown_model',
  NoPriceBook = 'no_price_book',
  NoRecentUsage = 'no_recent_usage',
  AgentNotFound = 'agent_not_found',
  InvalidCap = 'invalid_cap',
  CapNotFound = 'cap_not_found',
  // Budgets
  InvalidBudgetNode = 'invalid_budget_node',
  BudgetNodeNotFound = 'budget_node_not_found',
  InvalidBudget = 'invalid_budget',
  InvalidBudgetPeriod = 'invalid_budget_period',
  BudgetPeriodEnded = 'budget_period_ended',
  BudgetNotFound = 'budget_not_found',
  BudgetOverAllocated = 'budget_over_allocated',
  BudgetBelowUsage = 'budget_below_usage',
  InvalidTransfer = 'invalid_transfer',
  TransferExceedsUnused = 'transfer_exceeds_unused',
  // Stripe
  StripeSignatureMissing = 'stripe_signature_missing',
  StripeSignatureInvalid = 'stripe_signature_invalid',
  StripeSignatureExpired = 'stripe_signature_expired',
  StripeDisabled = 'stripe_disabled',
  StripeUnavailable = 'stripe_unavailable',
  StripeHandlerMissing = 'stripe_handler_missing',
}

const KIND: Record<BillingErrorCode, ErrorKind> = {
  [BillingErrorCode.AccountNotFound]: 'not_found',
  [BillingErrorCode.WebhookEndpointNotFound]: 'not_found',
  [BillingErrorCode.WebhookDeliveryNotFound]: 'not_found',
  [BillingErrorCode.WebhookUrlInvalid]: 'invalid',
  [BillingErrorCode.WebhookUrlNotAllowed]: 'invalid',
  [BillingErrorCode.WebhookUrlUnresolvable]: 'invalid',
  [BillingErrorCode.WebhookEventTypeUnknown]: 'invalid',
  [BillingErrorCode.WebhookEndpointLimit]: 'conflict',
  [BillingErrorCode.WebhookEndpointDisabled]: 'conflict',
  [BillingErrorCode.InvalidCursor]: 'invalid',
  [BillingErrorCode.ReservationNotFound]: 'not_found',
  [BillingErrorCode.ReservationCommitted]: 'conflict',
  [BillingErrorCode.InvalidEstimate]: 'invalid',
  [BillingErrorCode.EstimateZero]: 'invalid',
  [BillingErrorCode.EstimateTooLarge]: 'invalid',
  [BillingErrorCode.UnknownModel]: 'invalid',
  [BillingErrorCode.NoPriceBook]: 'conflict',
  [BillingErrorCode.NoRecentUsage]: 'conflict',
  [BillingErrorCode.AgentNotFound]: 'not_found',
  [BillingErrorCode.InvalidCap]: 'invalid',
  [BillingErrorCode.CapNotFound]: 'not_found',
  [BillingErrorCode.InvalidBudgetNode]: 'invalid',
  [BillingErrorCode.BudgetNodeNotFound]: 'not_found',
  [BillingErrorCode.InvalidBudget]: 'invalid',
  [BillingErrorCode.InvalidBudgetPeriod]: 'invalid',
  [BillingErrorCode.BudgetPeriodEnded]: 'conflict',
  [BillingErrorCode.BudgetNotFound]: 'not_found',
  [BillingErrorCode.BudgetOverAllocated]: 'conflict',
  [BillingErrorCode.BudgetBelowUsage]: 'conflict',
  [BillingErrorCode.InvalidTransfer]: 'invalid',
  [BillingErrorCode.TransferExceedsUnused]: 'conflict',
  [BillingErrorCode.StripeSignatureMissing]: 'invalid',
  [BillingErrorCode.StripeSignatureInvalid]: 'invalid',
  // A capture replayed later than the tolerance: refused like a bad signature.
  [BillingErrorCode.StripeSignatureExpired]: 'invalid',
  // The route is off here (no Stripe keys): a 4xx like any route that is not there, retried by Stripe all the same.
  [BillingErrorCode.StripeDisabled]: 'not_found',
  // Not the caller's doing: Stripe retries a delivery answered with a 5xx, so nothing is lost meanwhile.
  [BillingErrorCode.StripeUnavailable]: 'unavailable',
  [BillingErrorCode.StripeHandlerMissing]: 'unavailable',
};

export class BillingError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: BillingErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}
