// Budget leases, the pure part: how big a slice a process may lease for a path of levels, whether a hold
// fits what is left of it, and the figures a hold answered from it reports. Amounts are integers of 10^-6
// (as in Redis), tokens whole numbers; the figures are the six per level of a tmHold reply (la, lt ('-'
// when none), sa, st, ha, ht), read after the lease was held.

export interface LeaseSettings {
  /** A slice holds at most this many estimates of the hold that asked for it (0: no leases). */
  holds: number;
  /** ... and at most 1/share of what is left at the tightest level. */
  share: number;
  /** A lease answers holds for this long (the clock's ms); its own hold expires graceMs after that. */
  useMs: number;
  graceMs: number;
  /** A path is leased once it has busyHolds holds through Redis within busyMs (a lease idle that long is released). */
  busyHolds: number;
  busyMs: number;
  /** How long the holds answered from leases wait for others before their one tmCarve call (0: the next turn). */
  carveDelayMs: number;
}

export const DEFAULT_LEASE: LeaseSettings = { holds: 256, share: 8, useMs: 5_000, graceMs: 60_000, busyHolds: 8, busyMs: 1_000, carveDelayMs: 5 };

/** A path's holds through Redis in its current window of busyMs. */
export interface Busy {
  since: number;
  holds: number;
}

/** Counts a hold through Redis at `now` (the clock's ms) and says whether the path is busy enough to lease. */
export function busyAfter(settings: LeaseSettings, busy: Busy, now: number): boolean {
  if (now - busy.since > settings.busyMs || now < busy.since) {
    busy.since = now;
    busy.holds = 0;
  }
  busy.holds++;
  return busy.holds >= settings.busyHolds;
}

export interface Slice {
  /** 10^-6 */
  a: number;
  k: number;
}

type Figure = string | number;

/**
 * The slice to lease on a path, from the figures the last hold on it left (`figures`: 6 per level from
 * `from`) and that hold's estimate: `holds` estimates, no more than 1/share of the least left at any level
 * per measure, and null when that is not two estimates (too near a limit: holds there go through Redis,
 * where they are exact). A measure that no level limits is leased at `holds` estimates.
 */
export function sliceFor(settings: LeaseSettings, estimate: Slice, figures: readonly Figure[], from: number, levels: number): Slice | null {
  if (settings.holds <= 0) return null;
  let leftA = Infinity;
  let leftK = Infinity;
  for (let i = 0; i < levels; i++) {
    const at = from + 6 * i;
    if (figures[at] !== '-') leftA = Math.min(leftA, Number(figures[at]) - Number(figures[at + 2]) - Number(figures[at + 4]));
    if (figures[at + 1] !== '-') leftK = Math.min(leftK, Number(figures[at + 1]) - Number(figures[at + 3]) - Number(figures[at + 5]));
  }
  const a = Math.min(settings.holds * estimate.a, Math.floor(leftA / settings.share));
  const k = Math.min(settings.holds * estimate.k, Math.floor(leftK / settings.share));
  if (a < 2 * estimate.a || k < 2 * estimate.k) return null;
  return { a, k };
}

/** Whether a hold of `estimate` fits what is left of a lease. */
export function fits(left: Slice, estimate: Slice): boolean {
  return estimate.a <= left.a && estimate.k <= left.k;
}

/**
 * The figures of a hold answered from a lease: those the lease's own hold read, with the part of the slice
 * still unused (`left`, after this hold) not counted as held. That part is held in Redis for this process
 * alone; what the caller is told is held is what is held for reservations.
 */
export function leasedFigures(leaseFigures: readonly Figure[], from: number, levels: number, left: Slice): Figure[] {
  const out = leaseFigures.slice();
  for (let i = 0; i < levels; i++) {
    const at = from + 6 * i;
    out[at + 4] = Number(leaseFigures[at + 4]) - left.a;
    out[at + 5] = Number(leaseFigures[at + 5]) - left.k;
  }
  return out;
}
