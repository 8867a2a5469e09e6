// Every migration, in order. Listed explicitly (not globbed) so the build, the CLI and the tests all
// run the same set whatever the module loader.
import { Foundation1764000000000 } from './1764000000000-foundation.js';
import { Tiers1764100000000 } from './1764100000000-tiers.js';
import { Metering1764200000000 } from './1764200000000-metering.js';
import { MeterSpend1764300000000 } from './1764300000000-meter-spend.js';
import { WriteGuard1764400000000 } from './1764400000000-write-guard.js';
import { MeterPeople1764500000000 } from './1764500000000-meter-people.js';
import { IgnoredUsageFields1764610000000 } from './1764610000000-ignored-usage-fields.js';
import { MeterNarrowRollups1764620000000 } from './1764620000000-meter-narrow-rollups.js';
import { Authorizations1765200000000 } from './1765200000000-authorizations.js';
import { Webhooks1765300000000 } from './1765300000000-webhooks.js';
import { Stripe1765400000000 } from './1765400000000-stripe.js';
import { Credits1765500000000 } from './1765500000000-credits.js';
import { Budgets1765600000000 } from './1765600000000-budgets.js';
import { Invoices1765800000000 } from './1765800000000-invoices.js';
import { InvoiceCredits1765900000000 } from './1765900000000-invoice-credits.js';
import { MeterHours1766000000000 } from './1766000000000-meter-hours.js';
import { MeterRewrites1766100000000 } from './1766100000000-meter-rewrites.js';
import { ReservationLeases1766200000000 } from './1766200000000-reservation-leases.js';
import { IdempotencyKeys1766300000000 } from './1766300000000-idempotency-keys.js';
import { MeterUnpriced1766400000000 } from './1766400000000-meter-unpriced.js';
import { IdempotencyCommitted1766500000000 } from './1766500000000-idempotency-committed.js';
import { InvoiceAmountPaid1766600000000 } from './1766600000000-invoice-amount-paid.js';
import { SubscriptionEnds1766700000000 } from './1766700000000-subscription-ends.js';
import { AllowanceOfNothing1766800000000 } from './1766800000000-allowance-of-nothing.js';
import { JobsFailed1766900000000 } from './1766900000000-jobs-failed.js';
import { GrantExpiryDayStart1767000000000 } from './1767000000000-grant-expiry-day-start.js';

export const migrations = [
  Foundation1764000000000,
  Tiers1764100000000,
  Metering1764200000000,
  MeterSpend1764300000000,
  WriteGuard1764400000000,
  MeterPeople1764500000000,
  IgnoredUsageFields1764610000000,
  MeterNarrowRollups1764620000000,
  Authorizations1765200000000,
  Webhooks1765300000000,
  Stripe1765400000000,
  Credits1765500000000,
  Budgets1765600000000,
  Invoices1765800000000,
  InvoiceCredits1765900000000,
  MeterHours1766000000000,
  MeterRewrites1766100000000,
  ReservationLeases1766200000000,
  IdempotencyKeys1766300000000,
  MeterUnpriced1766400000000,
  IdempotencyCommitted1766500000000,
  InvoiceAmountPaid1766600000000,
  SubscriptionEnds1766700000000,
  AllowanceOfNothing1766800000000,
  JobsFailed1766900000000,
  GrantExpiryDayStart1767000000000,
];
