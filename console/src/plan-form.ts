// The terms of a plan version sales edit beyond its money fields, as the forms hold them, what each refuses
// before sending, and what it sends: tier caps (whole token counts, blank for none), the volume-discount
// ladder (ascending steps, the last unbounded) and top-up packs (price and credit as decimals). The plan
// form and a subscription's overrides share them. Amounts stay decimal strings; never parsed into floats.
import type { Schemas } from './api';
import { compareDecimal, decimalError } from './decimal-input';
import { TIERS, type Tier } from './price-book-form';

export type Caps = Record<Tier, string>;
export interface Step {
  up_to: string;
  discount_pct: string;
}
export interface Pack {
  id: string;
  price: string;
  allowance: string;
  validity_days: string;
}

export const emptyCaps = (): Caps => ({ base: '', specialized: '', premier: '' });
export const emptyStep = (): Step => ({ up_to: '', discount_pct: '' });
export const emptyPack = (): Pack => ({ id: '', price: '', allowance: '', validity_days: '30' });

const SLUG = /^[a-z0-9][a-z0-9._-]*$/;
const WHOLE = /^\d{1,15}$/;

/** Caps per tier: a whole number of tokens (0 allowed: the tier is shut), or blank for none. Keys `<prefix>.<tier>`. */
export function capsErrors(caps: Caps, prefix = 'tier_caps'): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const tier of TIERS) {
    const v = caps[tier].trim().replaceAll(',', '');
    if (v !== '' && (!WHOLE.test(v) || !Number.isSafeInteger(Number(v)))) errors[`${prefix}.${tier}`] = 'A whole number of tokens (like 5000000), or blank for no cap.';
  }
  return errors;
}

/** The caps a form with no errors sends: the tiers given, or null when none is capped. */
export function capsBody(caps: Caps): Schemas['TierCaps'] | null {
  const given = TIERS.filter((t) => caps[t].trim() !== '');
  return given.length === 0 ? null : Object.fromEntries(given.map((t) => [t, Number(caps[t].trim().replaceAll(',', ''))]));
}

export function capsDraft(caps: Schemas['TierCaps'] | null | undefined): Caps {
  return { base: String(caps?.base ?? ''), specialized: String(caps?.specialized ?? ''), premier: String(caps?.premier ?? '') };
}

/**
 * The ladder: each step's discount a percentage 0..100; each step but the last ends at an amount above the
 * previous step's end (ascending, no overlap), the last is blank (unbounded). Keys `<prefix>.<i>.<field>`.
 */
export function ladderErrors(steps: readonly Step[], prefix = 'volume_discount'): Record<string, string> {
  const errors: Record<string, string> = {};
  let lower = '0';
  steps.forEach((step, i) => {
    const at = `${prefix}.${i}`;
    const upTo = step.up_to.trim();
    if (i === steps.length - 1) {
      if (upTo !== '') errors[`${at}.up_to`] = 'The last step has no end: leave it blank (it covers everything above).';
    } else {
      const error = decimalError(upTo, 'The end of this step');
      if (error) errors[`${at}.up_to`] = error;
      else if (compareDecimal(upTo, lower) <= 0) errors[`${at}.up_to`] = `More than ${lower}: the steps go up.`;
      else lower = upTo;
    }
    const pct = decimalError(step.discount_pct, 'The discount');
    if (pct) errors[`${at}.discount_pct`] = pct;
    else if (compareDecimal(step.discount_pct, '100') > 0) errors[`${at}.discount_pct`] = 'At most 100.';
  });
  return errors;
}

/** The ladder a form with no errors sends: its steps, or null for no discount. */
export function ladderBody(steps: readonly Step[]): Schemas['VolumeTier'][] | null {
  if (steps.length === 0) return null;
  return steps.map((s, i) => ({ up_to: i === steps.length - 1 ? null : s.up_to.trim(), discount_pct: s.discount_pct.trim() }));
}

export function ladderDraft(ladder: readonly Schemas['VolumeTier'][] | null | undefined): Step[] {
  return (ladder ?? []).map((s) => ({ up_to: s.up_to ?? '', discount_pct: s.discount_pct }));
}

/** Packs: an id (a slug, once), a price and a credit (decimals, the credit above 0), whole days 1..3660. Keys `topup_packs.<i>.<field>`. */
export function packErrors(packs: readonly Pack[]): Record<string, string> {
  const errors: Record<string, string> = {};
  const seen = new Set<string>();
  packs.forEach((pack, i) => {
    const at = `topup_packs.${i}`;
    const id = pack.id.trim();
    if (id === '') errors[`${at}.id`] = 'A pack id is required.';
    else if (id.length > 64 || !SLUG.test(id)) errors[`${at}.id`] = 'Lower-case letters, digits, “.”, “_” and “-”, starting with a letter or digit.';
    else if (seen.has(id)) errors[`${at}.id`] = `Another pack is called ${id}.`;
    seen.add(id);
    const price = decimalError(pack.price, 'The price');
    if (price) errors[`${at}.price`] = price;
    const credit = decimalError(pack.allowance, 'The credit');
    if (credit) errors[`${at}.allowance`] = credit;
    else if (compareDecimal(pack.allowance, '0') === 0) errors[`${at}.allowance`] = 'The credit is more than zero.';
    const days = pack.validity_days.trim();
    if (!/^\d{1,4}$/.test(days) || Number(days) < 1 || Number(days) > 3660) errors[`${at}.validity_days`] = 'A whole number of days from 1 to 3660.';
  });
  return errors;
}

export function packsBody(packs: readonly Pack[]): Schemas['TopupPack'][] {
  return packs.map((p) => ({ id: p.id.trim(), price: p.price.trim(), allowance: p.allowance.trim(), validity_days: Number(p.validity_days.trim()) }));
}

export function packsDraft(packs: readonly Schemas['TopupPack'][] | undefined): Pack[] {
  return (packs ?? []).map((p) => ({ id: p.id, price: p.price, allowance: p.allowance, validity_days: String(p.validity_days) }));
}

/** The form field an error of the service names (`volume_discount[1].up_to` → `volume_discount.1.up_to`). */
export function planFormField(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1');
}

/** A subscription's overrides as the form holds them: each term the plan's own, removed (none), or replaced. */
export type OverrideMode = 'plan' | 'none' | 'set';
export interface OverridesForm {
  included_allowance: string;
  caps_mode: OverrideMode;
  tier_caps: Caps;
  ladder_mode: OverrideMode;
  volume_discount: Step[];
  /** The caps are an untouched copy of the chosen plan version's: choosing another version replaces them. */
  caps_copied: boolean;
  /** The ladder is an untouched copy of the chosen plan version's: choosing another version replaces it. */
  ladder_copied: boolean;
}

export function overridesDraft(overrides: Schemas['SubscriptionOverrides'] | undefined): OverridesForm {
  const mode = (v: unknown): OverrideMode => (v === undefined ? 'plan' : v === null ? 'none' : 'set');
  return {
    included_allowance: overrides?.included_allowance ?? '',
    caps_mode: mode(overrides?.tier_caps),
    tier_caps: capsDraft(overrides?.tier_caps),
    ladder_mode: mode(overrides?.volume_discount),
    volume_discount: overrides?.volume_discount ? ladderDraft(overrides.volume_discount) : [emptyStep()],
    caps_copied: false,
    ladder_copied: false,
  };
}

/** Keys `overrides.included_allowance`, `overrides.tier_caps[.<tier>]`, `overrides.volume_discount[.<i>.<field>]`. */
export function overridesErrors(form: OverridesForm): Record<string, string> {
  const errors: Record<string, string> = {};
  if (form.included_allowance.trim() !== '') {
    const error = decimalError(form.included_allowance, 'The allowance');
    if (error) errors['overrides.included_allowance'] = error;
  }
  if (form.caps_mode === 'set') {
    Object.assign(errors, capsErrors(form.tier_caps, 'overrides.tier_caps'));
    if (Object.keys(errors).every((k) => !k.startsWith('overrides.tier_caps')) && capsBody(form.tier_caps) === null) {
      errors['overrides.tier_caps'] = 'Give at least one cap, or choose “no caps”.';
    }
  }
  if (form.ladder_mode === 'set') {
    if (form.volume_discount.length === 0) errors['overrides.volume_discount'] = 'Add a step, or choose “no discount”.';
    Object.assign(errors, ladderErrors(form.volume_discount, 'overrides.volume_discount'));
  }
  return errors;
}

/** The `overrides` of PUT .../subscription (the whole set: a term left out is the plan's again). */
export function overridesBody(form: OverridesForm): Schemas['PutSubscription']['overrides'] {
  const pick = <T>(mode: OverrideMode, value: () => T) => (mode === 'plan' ? undefined : mode === 'none' ? null : value());
  const caps = pick(form.caps_mode, () => capsBody(form.tier_caps));
  const ladder = pick(form.ladder_mode, () => ladderBody(form.volume_discount));
  return {
    ...(form.included_allowance.trim() !== '' ? { included_allowance: form.included_allowance.trim() } : {}),
    ...(caps !== undefined ? { tier_caps: caps } : {}),
    ...(ladder !== undefined ? { volume_discount: ladder } : {}),
  };
}

/**
 * An override replaces the plan's caps or ladder whole, so one chosen with nothing typed yet starts as a
 * copy of the plan version's (changing one cap does not silently lift the others). A copy nobody has edited
 * follows the version chosen next (`plan` undefined while it loads: the copy is blank until it arrives);
 * what was typed is never replaced.
 */
export function overridesFromPlan(form: OverridesForm, plan: Pick<Schemas['PlanVersion'], 'tier_caps' | 'volume_discount'> | undefined): OverridesForm {
  const blank = (steps: Step[]) => steps.every((s) => s.up_to.trim() === '' && s.discount_pct.trim() === '');
  const caps = form.caps_mode === 'set' && (form.caps_copied || capsBody(form.tier_caps) === null);
  const ladder = form.ladder_mode === 'set' && (form.ladder_copied || blank(form.volume_discount));
  return {
    ...form,
    ...(caps ? { tier_caps: capsDraft(plan?.tier_caps), caps_copied: true } : {}),
    ...(ladder ? { volume_discount: plan?.volume_discount?.length ? ladderDraft(plan.volume_discount) : [emptyStep()], ladder_copied: true } : {}),
  };
}
