import { useEffect, useState } from 'react';
import { ok, type Schemas } from '../api';
import type { Session } from '../App';

/** Operators see every account: they choose which one the meter pages read. */
export function AccountPicker({ session, value, onChange }: { session: Session; value: string | null; onChange: (id: string) => void }) {
  const [accounts, setAccounts] = useState<Schemas['Account'][]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    ok(session.client.GET('/v1/accounts'))
      .then((list) => setAccounts(list.data))
      .catch((e: Error) => setError(e.message));
  }, [session]);
  return (
    <div className="picker">
      <label htmlFor="account-picker">Account</label>
      <select id="account-picker" value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
        <option value="" disabled>
          Choose…
        </option>
        {accounts.map((a) => (
          <option key={a.id} value={a.id}>
            {a.name} ({a.id})
          </option>
        ))}
      </select>
      {error ? <span className="error" role="alert">{error}</span> : null}
    </div>
  );
}
