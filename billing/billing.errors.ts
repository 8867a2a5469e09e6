// The one error type of the billing domain (budgets, authorizations, credits; later invoices, Stripe,
// webhooks). Each part adds its codes here; the HTTP filter maps a code's kind to a status.
import { DomainError, type ErrorDetails, type ErrorKind } from '../src/http/domain-error.js';

export enum BillingErrorCode {
  AccountNotFound = 'account_not_found',
}

const KIND: Record<BillingErrorCode, ErrorKind> = {
  [BillingErrorCode.AccountNotFound]: 'not_found',
};

export class BillingError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: BillingErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}
