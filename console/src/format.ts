// Numbers as people read them. Money stays a decimal string from the API; it is shown, never summed here.
const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

export function tokens(n: number): string {
  return integer.format(n);
}

export function tokensShort(n: number): string {
  return compact.format(n);
}

/** A decimal string with at most `places` decimals, cut (not rounded through a float) and grouped. */
export function money(value: string | null | undefined, currency?: string | null, places = 4): string {
  if (value === null || value === undefined) return '—';
  const negative = value.startsWith('-');
  const [whole = '0', fraction = ''] = value.replace(/^-/, '').split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const cut = fraction.slice(0, places).padEnd(2, '0');
  return `${negative ? '-' : ''}${grouped}.${cut}${currency ? ` ${currency}` : ''}`;
}

/**
 * A cost as shown beside what it leaves out: the tokens of models not priced yet (a reading's
 * `unpriced_tokens`), which cost nothing until sales prices them. A group of only such tokens reads
 * "unpriced", never a cost of zero; one with some has them said under its cost.
 */
export function costShown(
  sums: { cost: string; unpriced_tokens: number; tokens: { total: number } },
  currency?: string | null,
): { cost: string; unpriced: string | null } {
  if (sums.unpriced_tokens <= 0) return { cost: money(sums.cost, currency), unpriced: null };
  const n = `${tokens(sums.unpriced_tokens)} ${sums.unpriced_tokens === 1 ? 'token' : 'tokens'} unpriced`;
  return sums.unpriced_tokens >= sums.tokens.total && /^-?0*(\.0*)?$/.test(sums.cost)
    ? { cost: 'unpriced', unpriced: n }
    : { cost: money(sums.cost, currency), unpriced: `+ ${n}` };
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)} %`;
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
}

export function day(iso: string): string {
  return new Date(iso).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });
}

/** A calendar day (YYYY-MM-DD, as the API writes dates) as people read it: 1 Nov 2026. */
export function dayText(date: string): string {
  return new Date(`${date.slice(0, 10)}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}

/** A billing period as people read it: its first and last day (the end is exclusive), in UTC. */
export function periodText(start: string, end: string): string {
  const fmt = (d: Date) => d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
  return `${fmt(new Date(start))} – ${fmt(new Date(new Date(end).getTime() - 1))}`;
}

/** "1 field to fix before saving." / "3 fields to fix before publishing.": a refused form's count, in words. */
export function fieldsToFix(count: number, before: string): string {
  return `${count} ${count === 1 ? 'field' : 'fields'} to fix before ${before}.`;
}
