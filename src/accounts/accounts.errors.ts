import { DomainError, type ErrorDetails, type ErrorKind } from '../http/domain-error.js';

export enum AccountsErrorCode {
  AccountExists = 'account_exists',
  AccountNotFound = 'account_not_found',
  UnitExists = 'unit_exists',
  UnitNotFound = 'unit_not_found',
  ParentUnitNotFound = 'parent_unit_not_found',
  PersonExists = 'person_exists',
  PersonNotFound = 'person_not_found',
  OwnerNotFound = 'owner_not_found',
  PersonInactive = 'person_inactive',
  AgentExists = 'agent_exists',
  AgentNotFound = 'agent_not_found',
  MoveOutOfOrder = 'move_out_of_order',
  MoveInFuture = 'move_in_future',
  FiscalCalendarInUse = 'fiscal_calendar_in_use',
  MoveOverAllocates = 'move_over_allocates',
}

const KIND: Record<AccountsErrorCode, ErrorKind> = {
  [AccountsErrorCode.AccountExists]: 'conflict',
  [AccountsErrorCode.AccountNotFound]: 'not_found',
  [AccountsErrorCode.UnitExists]: 'conflict',
  // A unit is only ever named in a request body, so a missing one is bad input.
  [AccountsErrorCode.UnitNotFound]: 'invalid',
  [AccountsErrorCode.ParentUnitNotFound]: 'invalid',
  [AccountsErrorCode.PersonExists]: 'conflict',
  [AccountsErrorCode.PersonNotFound]: 'not_found',
  [AccountsErrorCode.OwnerNotFound]: 'invalid',
  [AccountsErrorCode.PersonInactive]: 'conflict',
  [AccountsErrorCode.AgentExists]: 'conflict',
  [AccountsErrorCode.AgentNotFound]: 'not_found',
  [AccountsErrorCode.MoveOutOfOrder]: 'conflict',
  [AccountsErrorCode.MoveInFuture]: 'invalid',
  [AccountsErrorCode.FiscalCalendarInUse]: 'conflict',
  [AccountsErrorCode.MoveOverAllocates]: 'conflict',
};

export class AccountsError extends DomainError {
  readonly kind: ErrorKind;
  constructor(code: AccountsErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.kind = KIND[code];
  }
}
