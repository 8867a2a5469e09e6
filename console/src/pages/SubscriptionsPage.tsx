// Sales: an account's subscription (the plan version billed now and its effective terms) and the form
// that subscribes it, pins a version or follows the latest, and overrides the included allowance.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, ok, type Schemas, whileCurrent } from '../api';
import type { Session } from '../App';
import { AccountPicker } from '../components/AccountPicker';
import { Field, FormMessage, type Message } from '../components/Field';
import { CapsFields, LadderFields } from '../components/TermsFields';
import { dayText, fieldsToFix, money } from '../format';
import { focusFirstInvalid } from '../focus';
import { show } from '../plan-diff';
import { overridesBody, overridesDraft, overridesErrors, overridesFromPlan, planFormField, type OverrideMode, type OverridesForm } from '../plan-form';

function ModeSelect({ id, label, value, onChange, none, set }: { id: string; label: string; value: OverrideMode; onChange: (mode: OverrideMode) => void; none: string; set: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as OverrideMode)}>
        <option value="plan">the plan’s</option>
        <option value="none">{none}</option>
        <option value="set">{set}</option>
      </select>
    </div>
  );
}

export function SubscriptionsPage({ session }: { session: Session }) {
  const { client } = session;
  const [account, setAccount] = useState<string | null>(null);
  const [plans, setPlans] = useState<Schemas['PlanSummary'][]>([]);
  const [current, setCurrent] = useState<Schemas['Subscription'] | null>(null);
  const [form, setForm] = useState({ plan_id: '', plan_version: 'latest', billing_anchor_day: '1' });
  const [overrides, setOverrides] = useState<OverridesForm>(overridesDraft(undefined));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);

  useEffect(() => {
    ok(client.GET('/v1/plans', { params: { query: { limit: 200 } } }))
      .then((list) => setPlans(list.data))
      .catch(() => undefined);
  }, [client]);

  const load = useCallback(() => {
    if (account === null) return;
    return whileCurrent(
      client.GET('/v1/accounts/{account}/subscription', { params: { path: { account } } }),
      ({ data }) => {
        setCurrent(data ?? null);
        setForm({
          plan_id: data?.plan_id ?? '',
          plan_version: data ? (data.follows_latest ? 'latest' : String(data.plan_version)) : 'latest',
          billing_anchor_day: String(data?.billing_anchor_day ?? 1),
        });
        setOverrides(overridesDraft(data?.overrides));
      },
      (e) => setMessage({ error: true, text: (e as Error).message }),
    );
  }, [client, account]);
  useEffect(load, [load]);

  // The plan version the form has chosen (which may not be the one in force): an override set from
  // scratch starts as a copy of ITS caps and ladder, since the override replaces them whole. The answer is
  // kept with the choice it is for, so a choice still loading never lends the previous plan's terms.
  const choice = `${form.plan_id}@${form.plan_version.trim()}`;
  const [fetched, setFetched] = useState<{ choice: string; plan: Schemas['PlanVersion'] } | undefined>(undefined);
  const chosen = fetched?.choice === choice ? fetched.plan : undefined;
  useEffect(() => {
    const plan = form.plan_id;
    const version = form.plan_version.trim();
    if (plan === '' || (version !== 'latest' && !/^[1-9]\d*$/.test(version))) return;
    const request =
      version === 'latest'
        ? client.GET('/v1/plans/{plan}', { params: { path: { plan } } })
        : client.GET('/v1/plans/{plan}/versions/{version}', { params: { path: { plan, version } } });
    return whileCurrent(ok(request), (found) => setFetched({ choice: `${plan}@${version}`, plan: found }));
  }, [client, form.plan_id, form.plan_version]);

  const startFromPlan = (next: OverridesForm): OverridesForm => overridesFromPlan(next, chosen);
  // A plan chosen after "these caps" was picked replaces an untouched copy and fills what is blank (never
  // what was typed).
  useEffect(() => setOverrides((o) => overridesFromPlan(o, chosen)), [chosen]);

  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    if (account === null) return;
    const found: Record<string, string> = {};
    if (form.plan_id === '') found.plan_id = 'Choose a plan.';
    if (form.plan_version !== 'latest' && !/^[1-9]\d*$/.test(form.plan_version)) found.plan_version = '“latest” or a version number.';
    const anchor = Number(form.billing_anchor_day);
    if (!Number.isInteger(anchor) || anchor < 1 || anchor > 28) found.billing_anchor_day = 'A day from 1 to 28.';
    Object.assign(found, overridesErrors(overrides));
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: fieldsToFix(Object.keys(found).length, 'saving') });
      focusFirstInvalid(formElement);
      return;
    }
    try {
      const saved = await ok(
        client.PUT('/v1/accounts/{account}/subscription', {
          params: { path: { account } },
          body: {
            plan_id: form.plan_id,
            plan_version: form.plan_version === 'latest' ? 'latest' : Number(form.plan_version),
            billing_anchor_day: anchor,
            overrides: overridesBody(overrides),
          },
        }),
      );
      setMessage({ error: false, text: `${account} is on ${saved.plan_id} v${saved.plan.version}${saved.follows_latest ? ' (following the latest)' : ''}.` });
      load();
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [planFormField(f.field)]: f.message });
      setMessage({ error: true, text: f.message });
      focusFirstInvalid(formElement);
    }
  };

  // Cancelled at the end of the current billing period: that period is billed, no later one.
  const cancel = async () => {
    if (account === null || current === null) return;
    if (!window.confirm(`Cancel ${account}'s subscription to ${current.plan_id}? It is billed to the end of the current billing period, and not after.`)) return;
    try {
      const ended = await ok(client.DELETE('/v1/accounts/{account}/subscription', { params: { path: { account } } }));
      setMessage({ error: false, text: `${account}'s subscription ends on ${dayText(ended.ends_at ?? '')}.` });
      load();
    } catch (failure) {
      setMessage({ error: true, text: (failure as Error).message });
    }
  };

  return (
    <section>
      <AccountPicker session={session} value={account} onChange={setAccount} />
      {account === null ? <p>Choose an account.</p> : null}
      {account !== null && current === null ? <p>{account} has no subscription.</p> : null}
      {current ? (
        <dl className="facts" data-testid="subscription">
          <dt>Plan</dt>
          <dd>
            {current.plan_id} v{current.plan.version}
            {current.follows_latest ? ' (follows the latest)' : ' (pinned)'}
          </dd>
          <dt>Since</dt>
          <dd>{dayText(current.start_date)}</dd>
          <dt>Billing anchor day</dt>
          <dd>{current.billing_anchor_day}</dd>
          {current.ends_at ? (
            <>
              <dt>Ends</dt>
              <dd>{dayText(current.ends_at)} (cancelled: billed until then)</dd>
            </>
          ) : null}
          <dt>Base fee</dt>
          <dd>{money(current.effective_terms.base_fee, current.effective_terms.currency, 2)}</dd>
          <dt>Included allowance</dt>
          <dd>
            {money(current.effective_terms.included_allowance, current.effective_terms.currency, 2)}
            {current.overrides.included_allowance ? ' (override)' : ''}
          </dd>
          <dt>Overage</dt>
          <dd>{current.effective_terms.overage_policy}</dd>
          <dt>Tier caps</dt>
          <dd>
            {show(current.effective_terms.tier_caps, 'tier_caps')}
            {current.overrides.tier_caps !== undefined ? ' (override)' : ''}
          </dd>
          <dt>Volume discount</dt>
          <dd>
            {show(current.effective_terms.volume_discount, 'volume_discount')}
            {current.overrides.volume_discount !== undefined ? ' (override)' : ''}
          </dd>
        </dl>
      ) : null}
      {account !== null ? (
        <form onSubmit={save} noValidate className="plan-form" aria-label="Subscribe the account">
          <h2>{current === null ? 'Subscribe' : current.ends_at ? 'Subscribe again' : 'Change the subscription'}</h2>
          {current?.ends_at ? <p className="help full">Saving subscribes it again: the cancellation is lifted.</p> : null}
          <div className={`field${errors.plan_id ? ' invalid' : ''}`}>
            <label htmlFor="sub-plan">Plan</label>
            <select id="sub-plan" value={form.plan_id} onChange={(e) => setForm({ ...form, plan_id: e.target.value })}>
              <option value="">Choose…</option>
              {plans.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.id} (latest v{p.latest_version})
                </option>
              ))}
            </select>
            {errors.plan_id ? <span className="error">{errors.plan_id}</span> : null}
          </div>
          <Field label="Version" hint="“latest” follows new versions" value={form.plan_version} error={errors.plan_version} onChange={(e) => setForm({ ...form, plan_version: e.target.value })} />
          <Field label="Billing anchor day" type="number" min={1} max={28} value={form.billing_anchor_day} error={errors.billing_anchor_day} onChange={(e) => setForm({ ...form, billing_anchor_day: e.target.value })} />
          <Field
            label="Included allowance override"
            hint="empty: the plan’s"
            inputMode="decimal"
            value={overrides.included_allowance}
            error={errors['overrides.included_allowance']}
            onChange={(e) => setOverrides({ ...overrides, included_allowance: e.target.value })}
          />
          <ModeSelect id="sub-caps-mode" label="Tier caps" value={overrides.caps_mode} none="no caps" set="these caps" onChange={(caps_mode) => setOverrides(startFromPlan({ ...overrides, caps_mode }))} />
          {overrides.caps_mode === 'set' ? (
            <CapsFields caps={overrides.tier_caps} errors={errors} prefix="overrides.tier_caps" legend="Tier caps override (tokens per period)" onChange={(tier_caps) => setOverrides({ ...overrides, tier_caps, caps_copied: false })} />
          ) : null}
          {errors['overrides.tier_caps'] ? <p className="error full">{errors['overrides.tier_caps']}</p> : null}
          <ModeSelect id="sub-ladder-mode" label="Volume discount" value={overrides.ladder_mode} none="no discount" set="this ladder" onChange={(ladder_mode) => setOverrides(startFromPlan({ ...overrides, ladder_mode }))} />
          {overrides.ladder_mode === 'set' ? (
            <LadderFields steps={overrides.volume_discount} errors={errors} prefix="overrides.volume_discount" legend="Volume discount override" onChange={(volume_discount) => setOverrides({ ...overrides, volume_discount, ladder_copied: false })} />
          ) : null}
          {errors['overrides.volume_discount'] ? <p className="error full">{errors['overrides.volume_discount']}</p> : null}
          <button type="submit">Save subscription</button>
          {current && !current.ends_at ? (
            <button type="button" className="secondary" onClick={() => void cancel()}>
              Cancel at period end
            </button>
          ) : null}
          <FormMessage message={message} />
        </form>
      ) : null}
    </section>
  );
}
