// Parameters after the page in the address (`#/invoices?invoice=inv_…`), so what a page shows can be
// linked, bookmarked and reached with the keyboard as an ordinary link.
import { useEffect, useState } from 'react';

export function hashParam(name: string, hash = window.location.hash): string | null {
  const query = hash.split('?')[1] ?? '';
  return new URLSearchParams(query).get(name);
}

/** The address of a page with these parameters (a null or empty one is left out). */
export function pageHref(path: string, params: Record<string, string | null> = {}): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== null && e[1] !== '')).toString();
  return `#/${path}${query ? `?${query}` : ''}`;
}

/** A parameter of the address, following it as it changes. */
export function useHashParam(name: string): string | null {
  const [value, setValue] = useState(() => hashParam(name));
  useEffect(() => {
    const onHash = () => setValue(hashParam(name));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [name]);
  return value;
}
