// What changed between a plan's versions: each term shown as text, compared with the version before.
import type { Schemas } from './api';
import { tokens } from './format';

export type Version = Schemas['PlanVersion'];

export const ROWS: { key: keyof Version; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'currency', label: 'Currency' },
  { key: 'base_fee', label: 'Base fee' },
  { key: 'waive_base_fee_for_paid_enterprise', label: 'Fee waived for paid enterprise' },
  { key: 'included_allowance', label: 'Included allowance' },
  { key: 'overage_policy', label: 'Overage' },
  { key: 'ineffective_credit_pct', label: 'Ineffective credit %' },
  { key: 'topup_packs', label: 'Top-up packs' },
  { key: 'tier_caps', label: 'Tier caps' },
  { key: 'volume_discount', label: 'Volume discount' },
];

/** A term as people read it: caps, ladders and packs in words; no caps / no ladder / no packs as “none”. */
export function show(value: unknown, key?: keyof Version): string {
  if (key === 'tier_caps') {
    const caps = Object.entries((value ?? {}) as Record<string, number>);
    return caps.length === 0 ? 'none' : caps.map(([tier, cap]) => `${tier} ${tokens(cap)}`).join(' · ');
  }
  if (key === 'volume_discount') {
    const steps = (value ?? []) as Schemas['VolumeTier'][];
    return steps.length === 0 ? 'none' : steps.map((s) => `${s.up_to === null ? 'above' : `to ${s.up_to}`}: ${s.discount_pct}%`).join(' · ');
  }
  if (key === 'topup_packs') {
    const packs = (value ?? []) as Schemas['TopupPack'][];
    return packs.length === 0 ? 'none' : packs.map((p) => `${p.id}: ${p.allowance} for ${p.price}, ${p.validity_days} days`).join(' · ');
  }
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value) && value.length === 0) return 'none';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The terms a version changed from the one before it (by row), for marking cells. */
export function changedRows(versions: Version[]): Map<number, Set<string>> {
  const byNumber = [...versions].sort((a, b) => a.version - b.version);
  const changed = new Map<number, Set<string>>();
  byNumber.forEach((v, i) => {
    const before = byNumber[i - 1];
    changed.set(v.version, new Set(before ? ROWS.filter((r) => show(v[r.key], r.key) !== show(before[r.key], r.key)).map((r) => r.key) : []));
  });
  return changed;
}

