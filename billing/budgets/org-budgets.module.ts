// Binds the accounts' fiscal-calendar port (FISCAL_CALENDAR_USERS) to the budgets cut on that calendar.
// Global so that accounts resolves the token without importing billing: dependencies keep pointing to src.
import { Global, Injectable, Module } from '@nestjs/common';
import { FISCAL_CALENDAR_USERS, type FiscalCalendarUsers } from '../../src/accounts/fiscal-calendar.port.js';
import type { Tx } from '../../src/database/data-source.js';
import { BudgetsRepository } from './budgets.repository.js';

@Injectable()
export class BudgetsOnCalendar implements FiscalCalendarUsers {
  constructor(private readonly budgets: BudgetsRepository) {}

  /** Under the account's budget lock, which a budget write takes before it reads the calendar. */
  async openBudgets(tx: Tx, account: string, now: Date): Promise<number> {
    await this.budgets.lockAccount(tx, account);
    return this.budgets.countOpen(tx, account, now);
  }
}

@Global()
@Module({
  providers: [BudgetsRepository, BudgetsOnCalendar, { provide: FISCAL_CALENDAR_USERS, useExisting: BudgetsOnCalendar }],
  exports: [FISCAL_CALENDAR_USERS],
})
export class FiscalCalendarUsersModule {}
