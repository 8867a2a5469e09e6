// Which version of a plan was in force at an instant, from the versions' publication times. Pure, so the
// rule a closed period is billed by is tested without a database.

export interface PublishedVersion {
  version: number;
  created_at: Date;
}

/**
 * The version in force at `at`: the highest-numbered version published at or before it. Numbers, not
 * times, order versions (a rollback publishes a copy of an old version as a new, higher one, and the newest
 * publication is the one in force). When the plan had no version yet at `at` (a subscription backdated to
 * before the plan was first published) it is the plan's first version, the one nearest in time. Null only
 * for no versions at all.
 */
export function versionInForceAt<V extends PublishedVersion>(versions: readonly V[], at: Date): V | null {
  let inForce: V | null = null;
  let first: V | null = null;
  for (const v of versions) {
    if (first === null || v.version < first.version) first = v;
    if (v.created_at.getTime() <= at.getTime() && (inForce === null || v.version > inForce.version)) inForce = v;
  }
  return inForce ?? first;
}

/**
 * The last instant of a period that ends (exclusive) at `end`: a version published at the very start of
 * the next period was never in force during this one.
 */
export function lastInstantBefore(end: Date): Date {
  return new Date(end.getTime() - 1);
}
