// Sales: the model catalog (tier, provider, aliases) and the price books, an immutable history of
// versions; a new version is published from a form checked here first and by the API in the end.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiFailure, ok, type Schemas } from '../api';
import type { Session } from '../App';
import { Field, FormMessage, type Message } from '../components/Field';
import {
  draftOf, emptyModelForm, emptyModelRow, emptyPrices, FALLBACK, formField, KINDS, kindLabel, modelAliases, modelFormErrors, modelFormOf, modelRateErrors,
  modelRates, priceBookErrors, targetLabel, tierRates, tierTarget, TIERS, type ModelForm, type ModelRateRow, type Prices,
} from '../price-book-form';
import { dateTime, fieldsToFix, tokens } from '../format';
import { focusFirstInvalid } from '../focus';

function ModelsSection({ session, models, load }: { session: Session; models: Schemas['Model'][]; load: () => Promise<void> }) {
  const { client } = session;
  const [form, setForm] = useState<ModelForm>(emptyModelForm);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);
  // PUT replaces a model whole: changing one typed by its id alone would drop its aliases.
  const existing = models.find((m) => m.id === form.id.trim());
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    const found = modelFormErrors(form);
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: 'Fix the marked fields first.' });
      focusFirstInvalid(formElement);
      return;
    }
    try {
      const saved = await ok(
        client.PUT('/v1/models/{model}', { params: { path: { model: form.id.trim() } }, body: { tier: form.tier, provider: form.provider.trim(), aliases: modelAliases(form) } }),
      );
      setMessage({ error: false, text: `Saved ${saved.id} (${saved.tier}).` });
      setForm(emptyModelForm());
      await load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [f.field === 'model' ? 'id' : f.field]: f.message });
      setMessage({ error: true, text: f.message });
      focusFirstInvalid(formElement);
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
              <th scope="col">
                <span className="sr-only">Change</span>
              </th>
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
                <td>
                  <button
                    type="button"
                    className="secondary small"
                    aria-label={`Change ${m.id}`}
                    onClick={() => {
                      setForm(modelFormOf(m));
                      setErrors({});
                      setMessage(null);
                      document.getElementById('model-id')?.focus();
                    }}
                  >
                    Change
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="inline-form" onSubmit={save} noValidate aria-label="Add or change a model">
        <Field
          id="model-id"
          label="Model id"
          value={form.id}
          error={errors.id}
          hint={existing ? `In the catalog: saving replaces its tier, provider and aliases (Change fills them in).` : undefined}
          onChange={(e) => setForm({ ...form, id: e.target.value })}
        />
        <div className="field">
          <label htmlFor="model-tier">Tier</label>
          <select id="model-tier" value={form.tier} onChange={(e) => setForm({ ...form, tier: e.target.value })}>
            {TIERS.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        <Field label="Provider" value={form.provider} error={errors.provider} onChange={(e) => setForm({ ...form, provider: e.target.value })} />
        <Field label="Aliases" hint="comma-separated" value={form.aliases} error={errors.aliases} onChange={(e) => setForm({ ...form, aliases: e.target.value })} />
        <button type="submit">Save model</button>
      </form>
      <FormMessage message={message} testId="model-message" />
    </section>
  );
}

/** A book's rate rows (per model, and for long context) as a table; nothing when it has none. */
function RateRows({ rows, threshold }: { rows: ModelRateRow[]; threshold: string }) {
  if (rows.length === 0 && threshold === '') return null;
  return (
    <>
      {threshold !== '' ? <p className="sub">Long context: requests with more than {tokens(Number(threshold))} input tokens.</p> : null}
      {rows.length > 0 ? (
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Rates by model">
          <table data-testid="model-rates">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Applies to</th>
                {KINDS.map((k) => (
                  <th scope="col" className="num" key={k}>
                    {kindLabel(k)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={`${r.scope}:${r.model}`}>
                  <th scope="row">{targetLabel(r.model)}</th>
                  <td>{r.scope === 'long' ? 'long context' : 'every request'}</td>
                  {KINDS.map((k) => (
                    <td className="num" key={k}>
                      {r.rates[k] || '—'}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function ModelRowFields({ row, index, models, errors, onChange, onRemove }: {
  row: ModelRateRow; index: number; models: Schemas['Model'][]; errors: Record<string, string>;
  onChange: (row: ModelRateRow) => void; onRemove: () => void;
}) {
  const at = `models.${index}`;
  const modelId = `book-row-${index}-model`;
  const scopeId = `book-row-${index}-scope`;
  return (
    <fieldset className="terms-row model-row" aria-label={`Rate row ${index + 1}`} aria-describedby={errors[at] ? `${at}-note` : undefined}>
      <div className={`field${errors[`${at}.model`] ? ' invalid' : ''}`}>
        <label htmlFor={modelId}>Model</label>
        <select id={modelId} value={row.model} aria-invalid={errors[`${at}.model`] ? true : undefined} aria-describedby={errors[`${at}.model`] ? `${modelId}-note` : undefined} onChange={(e) => onChange({ ...row, model: e.target.value })}>
          <option value="">Choose…</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id} ({m.tier})
            </option>
          ))}
          {row.scope === 'long'
            ? TIERS.map((t) => (
                <option key={t} value={tierTarget(t)}>
                  {targetLabel(tierTarget(t))}
                </option>
              ))
            : null}
          {row.model !== '' && !row.model.startsWith('tier:') && !models.some((m) => m.id === row.model) ? <option value={row.model}>{row.model} (not in the catalog)</option> : null}
        </select>
        {errors[`${at}.model`] ? <span id={`${modelId}-note`} className="error">{errors[`${at}.model`]}</span> : null}
      </div>
      <div className="field">
        <label htmlFor={scopeId}>Applies to</label>
        <select id={scopeId} value={row.scope} onChange={(e) => onChange({ ...row, scope: e.target.value as ModelRateRow['scope'] })}>
          <option value="all">every request</option>
          <option value="long">long context</option>
        </select>
      </div>
      {KINDS.map((k) => (
        <Field
          key={k}
          label={kindLabel(k)}
          inputMode="decimal"
          placeholder="the tier’s"
          value={row.rates[k]}
          error={errors[`${at}.${k}`]}
          onChange={(e) => onChange({ ...row, rates: { ...row.rates, [k]: e.target.value } })}
        />
      ))}
      <button type="button" className="secondary small" aria-label={`Remove rate row ${index + 1}`} onClick={onRemove}>
        Remove
      </button>
      {errors[at] ? (
        <span id={`${at}-note`} className="error row-error">
          {errors[at]}
        </span>
      ) : null}
    </fieldset>
  );
}

function PriceBooksSection({ session, models }: { session: Session; models: Schemas['Model'][] }) {
  const { client } = session;
  const [books, setBooks] = useState<Schemas['PriceBook'][]>([]);
  const [prices, setPrices] = useState<Prices>(emptyPrices);
  const [rows, setRows] = useState<ModelRateRow[]>([]);
  const [threshold, setThreshold] = useState('');
  const [effectiveFrom, setEffectiveFrom] = useState('');
  const [correction, setCorrection] = useState(false);
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);
  // Rates typed before the history arrives are not overwritten by the copy of the newest version.
  const edited = useRef(false);
  const setPricesEdited = (next: Prices) => {
    edited.current = true;
    setPrices(next);
  };
  const setRowsEdited = (next: ModelRateRow[]) => {
    edited.current = true;
    setRows(next);
  };
  const load = useCallback(() => {
    ok(client.GET('/v1/price-books', { params: { query: { limit: 100 } } }))
      .then((list) => {
        const newest = [...list.data].sort((a, b) => b.version - a.version);
        setBooks(newest);
        // The next version starts as a copy of the newest: sales change a few rates, not all of them.
        if (newest[0] && !edited.current) {
          const draft = draftOf(newest[0]);
          setPrices(draft.prices);
          setRows(draft.rows);
          setThreshold(draft.threshold);
        }
      })
      .catch((e: Error) => setMessage({ error: true, text: e.message }));
  }, [client]);
  useEffect(load, [load]);

  const publish = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    const found = {
      ...priceBookErrors(prices, effectiveFrom, correction, new Date()),
      ...modelRateErrors(rows, threshold, models.map((m) => m.id)),
    };
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: fieldsToFix(Object.keys(found).length, 'publishing') });
      focusFirstInvalid(formElement);
      return;
    }
    try {
      const book = await ok(
        client.POST('/v1/price-books', {
          body: {
            tiers: tierRates(prices),
            ...modelRates(rows, threshold),
            ...(effectiveFrom ? { effective_from: new Date(`${effectiveFrom}Z`).toISOString() } : {}),
            ...(correction ? { correction: true, ...(reason ? { reason } : {}) } : {}),
          },
        }),
      );
      setMessage({ error: false, text: `Published price book version ${book.version}, in force from ${dateTime(book.effective_from)}.` });
      setEffectiveFrom('');
      setCorrection(false);
      setReason('');
      edited.current = false;
      load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [formField(f.field, rows)]: f.message });
      setMessage({ error: true, text: f.message });
      focusFirstInvalid(formElement);
    }
  };

  return (
    <section aria-labelledby="books-heading">
      <h2 id="books-heading">Price books</h2>
      <p className="sub">Prices per 1,000,000 tokens. Each version is immutable; the latest one in force prices each event.</p>
      <ol className="history" reversed start={books.length} data-testid="price-book-history">
        {books.map((b) => {
          const draft = draftOf(b);
          return (
            <li key={b.version}>
              <details>
                <summary>
                  Version {b.version} · from {dateTime(b.effective_from)}
                  {b.correction ? ' · correction' : ''}
                  {draft.rows.length > 0 ? ` · ${draft.rows.length} rate row${draft.rows.length === 1 ? '' : 's'}` : ''}
                </summary>
                <div className="table-scroll" tabIndex={0} role="region" aria-label={`Tier rates of version ${b.version}`}>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Tier</th>
                        {KINDS.map((k) => (
                          <th scope="col" className="num" key={k}>
                            {kindLabel(k)}
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
                </div>
                <RateRows rows={draft.rows} threshold={draft.threshold} />
                {b.reason ? <p className="sub">Reason: {b.reason}</p> : null}
              </details>
            </li>
          );
        })}
      </ol>
      <form onSubmit={publish} noValidate aria-label="Publish a new price-book version" className="price-form">
        <h3>New version</h3>
        <p className="help full">Starts as a copy of the newest version. A blank cached or cache-write price is the input price; a blank reasoning price the output price.</p>
        <div className="price-grid" role="group" aria-label="Prices per million tokens">
          {TIERS.map((t) => (
            <fieldset key={t}>
              <legend>{t}</legend>
              {KINDS.map((k) => (
                <Field
                  key={k}
                  label={kindLabel(k)}
                  inputMode="decimal"
                  value={prices[t][k]}
                  placeholder={FALLBACK[k] ?? '0.00'}
                  error={errors[`${t}.${k}`]}
                  onChange={(e) => setPricesEdited({ ...prices, [t]: { ...prices[t], [k]: e.target.value } })}
                />
              ))}
            </fieldset>
          ))}
        </div>
        <fieldset className="terms-group">
          <legend>Rates by model</legend>
          <p className="help">A model’s own rates replace its tier’s; a blank rate is the tier’s. Long-context rows price a whole request whose input is above the threshold.</p>
          {rows.length === 0 ? <p className="sub">No model rates: every model is priced by its tier.</p> : null}
          {rows.map((row, i) => (
            <ModelRowFields
              key={i}
              row={row}
              index={i}
              models={models}
              errors={errors}
              onChange={(changed) => setRowsEdited(rows.map((r, j) => (j === i ? changed : r)))}
              onRemove={() => setRowsEdited(rows.filter((_, j) => j !== i))}
            />
          ))}
          <button type="button" className="secondary small" onClick={() => setRowsEdited([...rows, emptyModelRow()])}>
            Add a model rate
          </button>
          <Field
            label="Long context above (input tokens)"
            inputMode="numeric"
            hint="empty: no long-context rates"
            value={threshold}
            error={errors.threshold}
            onChange={(e) => {
              edited.current = true;
              setThreshold(e.target.value);
            }}
          />
        </fieldset>
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
      <FormMessage message={message} />
    </section>
  );
}

export function CatalogPage({ session }: { session: Session }) {
  const { client } = session;
  const [models, setModels] = useState<Schemas['Model'][]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const load = useCallback(
    () =>
      ok(client.GET('/v1/models'))
        .then((list) => setModels(list.data))
        .catch((e: Error) => setFailure(e.message)),
    [client],
  );
  useEffect(() => void load(), [load]);
  return (
    <>
      {failure ? (
        <p className="error" role="alert">
          {failure}
        </p>
      ) : null}
      <ModelsSection session={session} models={models} load={load} />
      <PriceBooksSection session={session} models={models} />
    </>
  );
}
