// An invoice's amount_paid as the decimal it is, in the invoice's currency: it was stored with the currency
// after it ("20.00 EUR"), the only money field of the API that was not a plain decimal string.
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InvoiceAmountPaid1766600000000 implements MigrationInterface {
  name = 'InvoiceAmountPaid1766600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE invoices SET amount_paid = split_part(amount_paid, ' ', 1) WHERE amount_paid LIKE '% %'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE invoices SET amount_paid = amount_paid || ' ' || currency WHERE amount_paid IS NOT NULL AND amount_paid NOT LIKE '% %'`);
  }
}
