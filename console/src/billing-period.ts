// The billing period a subscription is in now: from the latest billing anchor day (UTC) at or before
// today to the same day a month later. Only for showing; the service bills by its own clock.
export function billingPeriod(now: Date, anchorDay: number): { from: Date; to: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const startMonth = now.getUTCDate() >= anchorDay ? m : m - 1;
  return { from: new Date(Date.UTC(y, startMonth, anchorDay)), to: new Date(Date.UTC(y, startMonth + 1, anchorDay)) };
}
