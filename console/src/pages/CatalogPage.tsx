// Sales: the model catalog (tier, provider, aliases) and the price books, an immutable history of
// versions; a new version is published from a form checked here first and by the API in the end.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, ok, type Schemas } from '../api';
import type { Session } from '../App';
import { Field } from '../components/Field';
import { emptyPrices, KINDS, priceBookErrors, tierRates, TIERS, type Prices } from '../price-book-form';
import { dateTime } from '../format';

function ModelsSection({ session }: { session: Session }) {
  const { client } = session;
  const [models, setModels] = useState<Schemas['Model'][]>([]);
  const [form, setForm] = useState({ id: '', tier: 'base', provider: '', aliases: '' });
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const load = useCallback(() => {
    ok(client.GET('/v1/models'))
      .then((list) => setModels(list.data))
      .catch((e: Error) => setMessage({ error: true, text: e.message }));
  }, [client]);
  useEffect(load, [load]);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const aliases = form.aliases.split(',').map((a) => a.trim()).filter(Boolean);
      const saved = await ok(client.PUT('/v1/models/{model}', { params: { path: { model: form.id } }, body: { tier: form.tier, provider: form.provider, aliases } }));
      setMessage({ error: false, text: `Saved ${saved.id} (${saved.tier}).` });
      load();
    } catch (failure) {
      setMessage({ error: true, text: (failure as Error).message });
    }
  };
  return (
    <section aria-labelledby="models-heading">
      <h2 id="models-heading">Models</h2>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Models">
        <table>
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Tier</th>
              <th scope="col">Provider</th>
              <th scope="col">Aliases</th>
            </tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.id}>
                <th scope="row">{m.id}</th>
                <td>
                  <span className={`tag tier-${m.tier}`}>{m.tier}</span>
                </td>
                <td>{m.provider}</td>
                <td>{m.aliases.join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="inline-form" onSubmit={save} aria-label="Add or change a model">
        <Field label="Model id" required value={form.id} pattern="[a-z0-9][a-z0-9._-]*" onChange={(e) => setForm({ ...form, id: e.target.value })} />
        <div className="field">
          <label htmlFor="model-tier">Tier</label>
          <select id="model-tier" value={form.tier} onChange={(e) => setForm({ ...form, tier: e.target.value })}>
            {TIERS.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        <Field label="Provider" required value={form.provider} onChange={(e) => setForm({ ...form, provider: e.target.value })} />
        <Field label="Aliases" hint="comma-separated" value={form.aliases} onChange={(e) => setForm({ ...form, aliases: e.target.value })} />
        <button type="submit">Save model</button>
      </form>
      {message ? (
        <p className={message.error ? 'error' : 'success'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      ) : null}
    </section>
  );
}

function PriceBooksSection({ session }: { session: Session }) {
  const { client } = session;
  const [books, setBooks] = useState<Schemas['PriceBook'][]>([]);
  const [prices, setPrices] = useState<Prices>(emptyPrices);
  const [effectiveFrom, setEffectiveFrom] = useState('');
  const [correction, setCorrection] = useState(false);
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const load = useCallback(() => {
    ok(client.GET('/v1/price-books', { params: { query: { limit: 100 } } }))
      .then((list) => setBooks([...list.data].reverse()))
      .catch((e: Error) => setMessage({ error: true, text: e.message }));
  }, [client]);
  useEffect(load, [load]);

  const publish = async (e: FormEvent) => {
    e.preventDefault();
    const found = priceBookErrors(prices, effectiveFrom, correction, new Date());
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: `${Object.keys(found).length} field(s) to fix before publishing.` });
      return;
    }
    try {
      const book = await ok(
        client.POST('/v1/price-books', {
          body: {
            tiers: tierRates(prices),
            ...(effectiveFrom ? { effective_from: new Date(`${effectiveFrom}Z`).toISOString() } : {}),
            ...(correction ? { correction: true, ...(reason ? { reason } : {}) } : {}),
          },
        }),
      );
      setMessage({ error: false, text: `Published price book version ${book.version}, in force from ${dateTime(book.effective_from)}.` });
      setPrices(emptyPrices());
      load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [f.field]: f.message });
      setMessage({ error: true, text: f.message });
    }
  };

  return (
    <section aria-labelledby="books-heading">
      <h2 id="books-heading">Price books</h2>
      <p className="sub">Prices per 1,000,000 tokens. Each version is immutable; the latest one in force prices each event.</p>
      <ol className="history" reversed>
        {books.map((b) => (
          <li key={b.version}>
            <details>
              <summary>
                Version {b.version} · from {dateTime(b.effective_from)}
                {b.correction ? ' · correction' : ''}
              </summary>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Tier</th>
                    {KINDS.map((k) => (
                      <th scope="col" className="num" key={k}>
                        {k}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {TIERS.map((t) => (
                    <tr key={t}>
                      <th scope="row">{t}</th>
                      {KINDS.map((k) => (
                        <td className="num" key={k}>
                          {b.tiers[t][k] ?? '—'}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
              {b.reason ? <p className="sub">Reason: {b.reason}</p> : null}
            </details>
          </li>
        ))}
      </ol>
      <form onSubmit={publish} noValidate aria-label="Publish a new price-book version" className="price-form">
        <h3>New version</h3>
        <div className="price-grid" role="group" aria-label="Prices per million tokens">
          {TIERS.map((t) => (
            <fieldset key={t}>
              <legend>{t}</legend>
              {KINDS.map((k) => (
                <Field
                  key={k}
                  label={k.replace('_', ' ')}
                  inputMode="decimal"
                  value={prices[t][k]}
                  placeholder={k === 'cached_input' ? 'as input' : '0.00'}
                  error={errors[`${t}.${k}`]}
                  onChange={(e) => setPrices({ ...prices, [t]: { ...prices[t], [k]: e.target.value } })}
                />
              ))}
            </fieldset>
          ))}
        </div>
        <Field
          label="In force from (UTC)"
          type="datetime-local"
          hint="empty: now"
          value={effectiveFrom}
          error={errors.effective_from}
          onChange={(e) => setEffectiveFrom(e.target.value)}
        />
        <label className="inline">
          <input type="checkbox" checked={correction} onChange={(e) => setCorrection(e.target.checked)} /> Correction (may start in the past and
          reprice history; audited)
        </label>
        {correction ? <Field label="Reason" value={reason} onChange={(e) => setReason(e.target.value)} /> : null}
        <button type="submit">Publish version</button>
      </form>
      {message ? (
        <p className={message.error ? 'error' : 'success'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      ) : null}
    </section>
  );
}

export function CatalogPage({ session }: { session: Session }) {
  return (
    <>
      <ModelsSection session={session} />
      <PriceBooksSection session={session} />
    </>
  );
}
