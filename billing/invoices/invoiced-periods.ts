// The invoices as tiers' InvoicedPeriods port (tiers/subscriptions/invoiced-periods.port.ts): a subscription
// change asks how far the account was invoiced. Global so that tiers resolves the token without importing
// billing: dependencies keep pointing billing -> tiers.
import { Global, Injectable, Module } from '@nestjs/common';
import type { Db } from '../../src/database/sql.js';
import { INVOICED_PERIODS, type InvoicedPeriods } from '../../tiers/subscriptions/invoiced-periods.port.js';
import { InvoicesRepository } from './invoices.repository.js';

@Injectable()
export class InvoicesAsPeriods implements InvoicedPeriods {
  constructor(private readonly repository: InvoicesRepository) {}

  lastInvoicedEnd(db: Db, accountId: string): Promise<Date | null> {
    return this.repository.lastPeriodEnd(db, accountId);
  }
}

@Global()
@Module({
  providers: [InvoicesRepository, InvoicesAsPeriods, { provide: INVOICED_PERIODS, useExisting: InvoicesAsPeriods }],
  exports: [INVOICED_PERIODS],
})
export class InvoicedPeriodsModule {}
