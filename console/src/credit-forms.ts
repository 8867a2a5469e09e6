// The credit forms as they hold their fields, what each refuses before sending, and the body it sends.
// Amounts stay decimal strings from the keyboard to the API: never parsed into a float.
import { decimalError } from './decimal-input';

export interface GrantForm {
  amount: string;
  priority: string;
  validity_days: string;
  /** YYYY-MM-DD: the grant expires at 00:00 UTC that day. */
  expires_on: string;
  reason: string;
}

export const emptyGrant = (): GrantForm => ({ amount: '', priority: '', validity_days: '', expires_on: '', reason: '' });

const ZERO = /^0*(\.0*)?$/;
const SLUG = /^[a-z0-9][a-z0-9._-]*$/;

function wholeIn(value: string, min: number, max: number): boolean {
  return /^\d{1,6}$/.test(value) && Number(value) >= min && Number(value) <= max;
}

/** What is wrong with a promotional grant before it is sent: each field's sentence. */
export function grantErrors(form: GrantForm, now: Date): Record<string, string> {
  const errors: Record<string, string> = {};
  const amount = decimalError(form.amount, 'The amount');
  if (amount) errors.amount = amount;
  else if (ZERO.test(form.amount.trim())) errors.amount = 'The amount is more than zero.';
  const priority = form.priority.trim();
  if (priority !== '' && !wholeIn(priority, 1, 1000)) errors.priority = 'A whole number from 1 to 1000 (lower burns first).';
  const days = form.validity_days.trim();
  if (days !== '' && !wholeIn(days, 1, 3650)) errors.validity_days = 'A whole number of days from 1 to 3650.';
  if (form.expires_on !== '') {
    const at = new Date(`${form.expires_on}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(form.expires_on) || Number.isNaN(at.getTime())) errors.expires_on = 'A date, YYYY-MM-DD.';
    else if (at.getTime() <= now.getTime()) errors.expires_on = 'A day after today.';
    else if (days !== '') errors.expires_on = 'Either an expiry date or a number of days, not both.';
  }
  if (form.reason.length > 500) errors.reason = 'At most 500 characters.';
  return errors;
}

/** The body of POST .../credits/grants for a form grantErrors found nothing wrong with. */
export function grantBody(form: GrantForm) {
  return {
    amount: form.amount.trim(),
    ...(form.priority.trim() !== '' ? { priority: Number(form.priority.trim()) } : {}),
    ...(form.validity_days.trim() !== '' ? { validity_days: Number(form.validity_days.trim()) } : {}),
    ...(form.expires_on !== '' ? { expires_at: new Date(`${form.expires_on}T00:00:00Z`).toISOString() } : {}),
    ...(form.reason.trim() !== '' ? { reason: form.reason.trim() } : {}),
  };
}

export interface TopupForm {
  id: string;
  pack: string;
}

/** A purchase id people can read back: the purchase's minute, unique enough for one desk, editable. */
export function purchaseId(now: Date): string {
  return `topup-${now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-').toLowerCase()}`;
}

export function topupErrors(form: TopupForm): Record<string, string> {
  const errors: Record<string, string> = {};
  if (form.pack === '') errors.pack = 'Choose a pack.';
  const id = form.id.trim();
  if (id === '') errors.id = 'A purchase id is required (your order number: sending it again does not buy twice).';
  else if (id.length > 64 || !SLUG.test(id)) errors.id = 'Lower-case letters, digits, “.”, “_” and “-”, at most 64, starting with a letter or digit.';
  return errors;
}
