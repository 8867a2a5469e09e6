// Billing periods as pure functions: a period starts at 00:00 UTC on the subscription's anchor day
// (1-28, so every month has it) and ends where the next one starts.
export interface BillingPeriod {
  start: Date;
  end: Date;
}

export function billingPeriod(anchorDay: number, at: Date): BillingPeriod {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 28) throw new RangeError('anchorDay must be 1 to 28');
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth();
  const thisMonth = Date.UTC(y, m, anchorDay);
  const startMonth = at.getTime() >= thisMonth ? m : m - 1;
  return { start: new Date(Date.UTC(y, startMonth, anchorDay)), end: new Date(Date.UTC(y, startMonth + 1, anchorDay)) };
}
