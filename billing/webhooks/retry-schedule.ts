// When a failed delivery is tried again, as a pure function of the clock's reading and a random draw:
// exponential backoff (30 s, 1 min, 2 min, ... capped at 1 h) with ±25 % jitter, so receivers that fail
// together are not all retried in the same second, until the delivery's deadline (a day after it was
// created); then it has failed for good. A replay is a new delivery, with a new day.
export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_MS = 3_600_000;
export const RETRY_WINDOW_MS = 86_400_000;
export const JITTER = 0.25;

/** The backoff before attempt `failedAttempts + 1`, before jitter. */
export function baseDelayMs(failedAttempts: number): number {
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1) throw new Error('a retry follows at least one attempt');
  // 2^7 × 30 s already passes the cap; stop doubling there so large counts never overflow.
  return Math.min(FIRST_RETRY_MS * 2 ** Math.min(failedAttempts - 1, 8), MAX_RETRY_MS);
}

/**
 * The next attempt after `failedAttempts` attempts failed, the last of them ending at `now`; null when
 * that would fall after `deadline` (give up). `random` is a draw in [0, 1).
 */
export function nextAttemptAt(failedAttempts: number, now: Date, deadline: Date, random: number): Date | null {
  const jitter = 1 - JITTER + 2 * JITTER * Math.min(Math.max(random, 0), 1);
  const next = now.getTime() + Math.round(baseDelayMs(failedAttempts) * jitter);
  return next > deadline.getTime() ? null : new Date(next);
}
