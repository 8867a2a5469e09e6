import { useId, type InputHTMLAttributes } from 'react';

/** A labelled input with its error announced and tied to it (aria-describedby, aria-invalid). */
export function Field({ label, error, hint, ...input }: { label: string; error?: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const note = error ?? hint;
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={note ? `${id}-note` : undefined} {...input} />
      {note ? (
        <span id={`${id}-note`} className={error ? 'error' : 'help'}>
          {note}
        </span>
      ) : null}
    </div>
  );
}

/** Decimal strings as the API takes them: digits, an optional point, at most 12 decimals. */
export function decimalError(value: string, what = 'A price'): string | undefined {
  if (value.trim() === '') return `${what} is required.`;
  return /^\d+(\.\d{1,12})?$/.test(value.trim()) ? undefined : `${what} is a decimal number with at most 12 decimals, like 2.50.`;
}
