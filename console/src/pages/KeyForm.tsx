import { useState, type FormEvent } from 'react';

/** Asks for the key once per browser session; it is kept in this tab only (sessionStorage). */
export function KeyForm({ error, onKey }: { error: string | null; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const key = value.trim();
    if (key !== '') onKey(key);
  };
  return (
    <main className="key-form" id="main">
      <h1>
        <span aria-hidden="true">◔</span> tokenmeter console
      </h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={value}
          onChange={(e) => setValue(e.target.value)}
          // The refusal is tied to the field, so a screen reader on it hears why the key was not taken.
          aria-describedby={error !== null ? 'api-key-error api-key-help' : 'api-key-help'}
          aria-invalid={error !== null ? true : undefined}
        />
        <p id="api-key-help" className="help">
          Paste your key (<code>tm_…</code>). It stays in this browser tab until you close it; the console can do
          exactly what the key may do through the API.
        </p>
        {error !== null ? (
          <p className="error" role="alert" id="api-key-error">
            {error}
          </p>
        ) : null}
        <button type="submit">Open the console</button>
      </form>
    </main>
  );
}
