import { DomainError, type ErrorKind } from '../http/domain-error.js';

export enum AuthErrorCode {
  MissingKey = 'missing_api_key',
  InvalidKey = 'invalid_api_key',
  RevokedKey = 'revoked_api_key',
  InactiveOwner = 'inactive_key_owner',
  Forbidden = 'forbidden',
  /**
   * Another account, or one that does not exist: answered exactly as the account routes answer a missing
   * account to an operator (the same code), so nothing leaks and a client handles one code.
   */
  AccountNotFound = 'account_not_found',
  KeyNotFound = 'api_key_not_found',
  InvalidKeyRequest = 'invalid_key_request',
}

const KIND: Record<AuthErrorCode, ErrorKind> = {
  [AuthErrorCode.MissingKey]: 'unauthenticated',
  [AuthErrorCode.InvalidKey]: 'unauthenticated',
  [AuthErrorCode.RevokedKey]: 'unauthenticated',
  [AuthErrorCode.InactiveOwner]: 'unauthenticated',
  [AuthErrorCode.Forbidden]: 'forbidden',
  [AuthErrorCode.AccountNotFound]: 'not_found',
  [AuthErrorCode.KeyNotFound]: 'not_found',
  [AuthErrorCode.InvalidKeyRequest]: 'invalid',
};

export class AuthError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: AuthErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}
