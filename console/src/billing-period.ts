// The billing period a subscription is in now: from the latest billing anchor day (UTC) at or before
// today to the same day a month later. Only for showing; the service bills by its own clock.
export function billingPeriod(now: Date, anchorDay: number): { from: Date; to: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const startMonth = now.getUTCDate() >= anchorDay ? m : m - 1;
  return { from: new Date(Date.UTC(y, startMonth, anchorDay)), to: new Date(Date.UTC(y, startMonth + 1, anchorDay)) };
}

/**
 * Whether a subscription bills now: none; ended (its `ends_at` has passed: no plan, no allowance); or
 * running, with the day a cancellation ends it (null when none is pending).
 */
export function subscriptionStanding(sub: { ends_at: string | null } | null, now: Date): { kind: 'none' } | { kind: 'ended'; on: string } | { kind: 'running'; endsOn: string | null } {
  if (sub === null) return { kind: 'none' };
  if (sub.ends_at !== null && Date.parse(sub.ends_at) <= now.getTime()) return { kind: 'ended', on: sub.ends_at };
  return { kind: 'running', endsOn: sub.ends_at };
}
