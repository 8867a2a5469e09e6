import { useId, type InputHTMLAttributes } from 'react';

export { decimalError } from '../decimal-input';

/** A labelled input with its error announced and tied to it (aria-describedby, aria-invalid). */
export function Field({ label, error, hint, ...input }: { label: string; error?: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const generated = useId();
  const id = input.id ?? generated;
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


/** What a form's last submit came to: a success is announced politely, a failure at once. */
export type Message = { error: boolean; text: string } | null;

export function FormMessage({ message, testId, id }: { message: Message; testId?: string; id?: string }) {
  if (message === null) return null;
  return (
    <p id={id} className={message.error ? 'error' : 'success'} role={message.error ? 'alert' : 'status'} data-testid={testId}>
      {message.text}
    </p>
  );
}
