// Sales: plans and their versions side by side (each change from the version before is marked), a new
// version from a form prefilled with the latest, and rollback (an exact copy of an old version, published
// as the newest).
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiFailure, ok, type Schemas, whileCurrent } from '../api';
import type { Session } from '../App';
import { decimalError, Field, FormMessage, type Message } from '../components/Field';
import { dateTime, fieldsToFix } from '../format';
import { focusFirstInvalid } from '../focus';
import { isCurrency } from '../../../src/money/currency';
import { changedRows, ROWS, show, type Version } from '../plan-diff';
import { CapsFields, LadderFields, PackFields } from '../components/TermsFields';
import {
  capsBody, capsDraft, capsErrors, ladderBody, ladderDraft, ladderErrors, packErrors, packsBody, packsDraft, planFormField,
  type Caps, type Pack, type Step,
} from '../plan-form';

interface Draft {
  name: string;
  currency: string;
  base_fee: string;
  included_allowance: string;
  overage_policy: 'bill' | 'block';
  ineffective_credit_pct: string;
  tier_caps: Caps;
  volume_discount: Step[];
  topup_packs: Pack[];
}

function draftOf(v: Version | undefined): Draft {
  return {
    name: v?.name ?? '',
    currency: v?.currency ?? 'EUR',
    base_fee: v?.base_fee ?? '',
    included_allowance: v?.included_allowance ?? '',
    overage_policy: v?.overage_policy ?? 'bill',
    ineffective_credit_pct: v?.ineffective_credit_pct ?? '0',
    tier_caps: capsDraft(v?.tier_caps),
    volume_discount: ladderDraft(v?.volume_discount),
    topup_packs: packsDraft(v?.topup_packs),
  };
}

export function PlansPage({ session }: { session: Session }) {
  const { client } = session;
  const [plans, setPlans] = useState<Schemas['PlanSummary'][]>([]);
  const [plan, setPlan] = useState<string>('');
  const [newPlan, setNewPlan] = useState('');
  const [versions, setVersions] = useState<Version[]>([]);
  const [draft, setDraft] = useState<Draft>(draftOf(undefined));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<Message>(null);

  const loadPlans = useCallback(() => {
    ok(client.GET('/v1/plans', { params: { query: { limit: 200 } } }))
      .then((list) => {
        setPlans(list.data);
        setPlan((current) => current || list.data[0]?.id || '');
      })
      .catch((e: Error) => setMessage({ error: true, text: e.message }));
  }, [client]);
  useEffect(loadPlans, [loadPlans]);

  const loadVersions = useCallback(() => {
    if (plan === '') {
      setVersions([]);
      return;
    }
    return whileCurrent(
      ok(client.GET('/v1/plans/{plan}/versions', { params: { path: { plan } } })),
      (list) => {
        const sorted = [...list.data].sort((a, b) => b.version - a.version);
        setVersions(sorted);
        setDraft(draftOf(sorted[0]));
      },
      (e) => setMessage({ error: true, text: (e as Error).message }),
    );
  }, [client, plan]);
  useEffect(loadVersions, [loadVersions]);

  const target = plan === '' ? newPlan.trim() : plan;
  const publish = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const formElement = e.currentTarget;
    const found: Record<string, string> = {};
    if (target === '') found.plan = 'Name the new plan.';
    for (const [key, what] of [['base_fee', 'The base fee'], ['included_allowance', 'The included allowance'], ['ineffective_credit_pct', 'The credit share']] as const) {
      const error = decimalError(draft[key], what);
      if (error) found[key] = error;
    }
    if (!found.ineffective_credit_pct && Number(draft.ineffective_credit_pct) > 100) found.ineffective_credit_pct = 'At most 100.';
    if (!isCurrency(draft.currency)) found.currency = 'An ISO 4217 currency code in capitals, like EUR.';
    Object.assign(found, capsErrors(draft.tier_caps), ladderErrors(draft.volume_discount), packErrors(draft.topup_packs));
    setErrors(found);
    if (Object.keys(found).length > 0) {
      setMessage({ error: true, text: fieldsToFix(Object.keys(found).length, 'publishing') });
      focusFirstInvalid(formElement);
      return;
    }
    try {
      const saved = await ok(
        client.PUT('/v1/plans/{plan}', {
          params: { path: { plan: target } },
          body: {
            ...(draft.name ? { name: draft.name } : {}),
            currency: draft.currency as Schemas['PutPlan']['currency'],
            base_fee: draft.base_fee.trim(),
            included_allowance: draft.included_allowance.trim(),
            overage_policy: draft.overage_policy,
            ineffective_credit_pct: draft.ineffective_credit_pct.trim(),
            topup_packs: packsBody(draft.topup_packs),
            tier_caps: capsBody(draft.tier_caps),
            volume_discount: ladderBody(draft.volume_discount),
            // Not on the form: kept from the latest version.
            ...(versions[0] ? { waive_base_fee_for_paid_enterprise: versions[0].waive_base_fee_for_paid_enterprise } : {}),
            ...(versions[0]?.invoice_grace_minutes !== undefined ? { invoice_grace_minutes: versions[0].invoice_grace_minutes } : {}),
          },
        }),
      );
      setMessage({ error: false, text: `Published ${saved.plan_id} version ${saved.version}.` });
      if (plan === '') {
        setNewPlan('');
        setPlan(saved.plan_id);
        loadPlans();
      } else {
        loadVersions();
        loadPlans();
      }
    } catch (failure) {
      const f = failure as ApiFailure;
      if (f.field) setErrors({ [planFormField(f.field)]: f.message });
      setMessage({ error: true, text: f.message });
      focusFirstInvalid(formElement);
    }
  };

  const rollback = async (version: number) => {
    if (!window.confirm(`Publish an exact copy of ${plan} version ${version} as its newest version?`)) return;
    try {
      const saved = await ok(client.POST('/v1/plans/{plan}/rollback', { params: { path: { plan } }, body: { version } }));
      setMessage({ error: false, text: `Rolled back: version ${saved.version} is a copy of version ${version}.` });
      loadVersions();
      loadPlans();
    } catch (failure) {
      setMessage({ error: true, text: (failure as Error).message });
    }
  };

  // Another plan picked: nothing of the form before stays (its errors, its message, and for a new plan its
  // terms: a new plan started as the unpublished edit of the plan picked before, under that plan's name).
  const pick = (id: string) => {
    setPlan(id);
    setErrors({});
    setMessage(null);
    if (id === '') {
      setNewPlan('');
      setDraft(draftOf(undefined));
    }
  };

  const changed = changedRows(versions);
  return (
    <section>
      <div className="picker">
        <label htmlFor="plan-picker">Plan</label>
        <select id="plan-picker" value={plan} onChange={(e) => pick(e.target.value)}>
          {plans.map((p) => (
            <option key={p.id} value={p.id}>
              {p.id} (v{p.latest_version})
            </option>
          ))}
          <option value="">+ A new plan</option>
        </select>
      </div>
      <FormMessage message={message} testId="plan-message" />
      {versions.length > 0 ? (
        <div className="table-scroll" tabIndex={0} role="region" aria-label={`Versions of ${plan}, side by side`}>
          <table className="versions" data-testid="plan-versions">
            <caption>Versions of {plan}, newest first; a marked cell changed from the version before</caption>
            <thead>
              <tr>
                <th scope="col">Term</th>
                {versions.map((v, i) => (
                  <th scope="col" key={v.version}>
                    v{v.version}
                    {i === 0 ? ' (latest)' : ''}
                    <span className="sub block">
                      {dateTime(v.created_at)}
                      {v.rolled_back_from !== null ? ` · copy of v${v.rolled_back_from}` : ''}
                    </span>
                    {i > 0 ? (
                      <button type="button" className="secondary small" onClick={() => void rollback(v.version)}>
                        Roll back to v{v.version}
                      </button>
                    ) : null}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {ROWS.map((row) => (
                <tr key={row.key}>
                  <th scope="row">{row.label}</th>
                  {versions.map((v) => {
                    const isChanged = changed.get(v.version)?.has(row.key) ?? false;
                    return (
                      <td key={v.version} className={isChanged ? 'changed' : undefined}>
                        {show(v[row.key], row.key)}
                        {isChanged ? <span className="sr-only"> (changed)</span> : null}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form onSubmit={publish} noValidate className="plan-form" aria-label="Publish a plan version">
        <h2>{plan === '' ? 'New plan' : `New version of ${plan}`}</h2>
        {plan === '' ? <Field label="Plan id" value={newPlan} error={errors.plan} onChange={(e) => setNewPlan(e.target.value)} /> : null}
        <Field label="Name" value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        <Field
          label="Currency"
          value={draft.currency}
          disabled={versions.length > 0}
          hint={versions.length > 0 ? 'fixed across a plan’s versions' : undefined}
          error={errors.currency}
          onChange={(e) => setDraft({ ...draft, currency: e.target.value.toUpperCase() })}
        />
        <Field label="Base fee" inputMode="decimal" value={draft.base_fee} error={errors.base_fee} onChange={(e) => setDraft({ ...draft, base_fee: e.target.value })} />
        <Field
          label="Included allowance"
          inputMode="decimal"
          value={draft.included_allowance}
          error={errors.included_allowance}
          onChange={(e) => setDraft({ ...draft, included_allowance: e.target.value })}
        />
        <div className="field">
          <label htmlFor="overage">Overage</label>
          <select id="overage" value={draft.overage_policy} onChange={(e) => setDraft({ ...draft, overage_policy: e.target.value as Draft['overage_policy'] })}>
            <option value="bill">bill</option>
            <option value="block">block</option>
          </select>
        </div>
        <Field
          label="Ineffective credit %"
          inputMode="decimal"
          value={draft.ineffective_credit_pct}
          error={errors.ineffective_credit_pct}
          onChange={(e) => setDraft({ ...draft, ineffective_credit_pct: e.target.value })}
        />
        <CapsFields caps={draft.tier_caps} errors={errors} onChange={(tier_caps) => setDraft({ ...draft, tier_caps })} />
        <LadderFields steps={draft.volume_discount} errors={errors} onChange={(volume_discount) => setDraft({ ...draft, volume_discount })} />
        <PackFields packs={draft.topup_packs} errors={errors} onChange={(topup_packs) => setDraft({ ...draft, topup_packs })} />
        <button type="submit">{plan === '' ? 'Create plan' : 'Publish version'}</button>
      </form>
    </section>
  );
}
