// The plan terms edited as lists: tier caps, the volume-discount ladder and top-up packs. Each is a
// fieldset (a labelled group for screen readers), each row its own group with a labelled remove button.
import { TIERS } from '../price-book-form';
import { emptyPack, emptyStep, type Caps, type Pack, type Step } from '../plan-form';
import { Field } from './Field';

type Errors = Record<string, string>;

export function CapsFields({ caps, onChange, errors, prefix = 'tier_caps', legend = 'Tier caps (tokens per period)' }: { caps: Caps; onChange: (caps: Caps) => void; errors: Errors; prefix?: string; legend?: string }) {
  return (
    <fieldset className="terms-group">
      <legend>{legend}</legend>
      <div className="terms-row">
        {TIERS.map((t) => (
          <Field
            key={t}
            label={t}
            inputMode="numeric"
            placeholder="no cap"
            value={caps[t]}
            error={errors[`${prefix}.${t}`]}
            onChange={(e) => onChange({ ...caps, [t]: e.target.value })}
          />
        ))}
      </div>
    </fieldset>
  );
}

export function LadderFields({ steps, onChange, errors, prefix = 'volume_discount', legend = 'Volume discount' }: { steps: Step[]; onChange: (steps: Step[]) => void; errors: Errors; prefix?: string; legend?: string }) {
  const set = (i: number, step: Step) => onChange(steps.map((s, j) => (j === i ? step : s)));
  return (
    <fieldset className="terms-group">
      <legend>{legend}</legend>
      <p className="help">Graduated, on a period’s usage cost: each step up to its end, ascending; the last step covers everything above.</p>
      {steps.length === 0 ? <p className="sub">No discount.</p> : null}
      {steps.map((step, i) => (
        <fieldset className="terms-row" key={i} aria-label={`Step ${i + 1}`}>
          <Field
            label="Up to"
            inputMode="decimal"
            placeholder={i === steps.length - 1 ? 'and above' : '1000.00'}
            value={step.up_to}
            error={errors[`${prefix}.${i}.up_to`]}
            onChange={(e) => set(i, { ...step, up_to: e.target.value })}
          />
          <Field label="Discount %" inputMode="decimal" value={step.discount_pct} error={errors[`${prefix}.${i}.discount_pct`]} onChange={(e) => set(i, { ...step, discount_pct: e.target.value })} />
          <button type="button" className="secondary small" aria-label={`Remove step ${i + 1}`} onClick={() => onChange(steps.filter((_, j) => j !== i))}>
            Remove
          </button>
        </fieldset>
      ))}
      <button type="button" className="secondary small" onClick={() => onChange([...steps, emptyStep()])}>
        Add a step
      </button>
    </fieldset>
  );
}

export function PackFields({ packs, onChange, errors }: { packs: Pack[]; onChange: (packs: Pack[]) => void; errors: Errors }) {
  const set = (i: number, pack: Pack) => onChange(packs.map((p, j) => (j === i ? pack : p)));
  return (
    <fieldset className="terms-group">
      <legend>Top-up packs</legend>
      {packs.length === 0 ? <p className="sub">No packs.</p> : null}
      {packs.map((pack, i) => (
        <fieldset className="terms-row" key={i} aria-label={`Pack ${i + 1}`}>
          <Field label="Pack id" value={pack.id} error={errors[`topup_packs.${i}.id`]} onChange={(e) => set(i, { ...pack, id: e.target.value })} />
          <Field label="Price" inputMode="decimal" value={pack.price} error={errors[`topup_packs.${i}.price`]} onChange={(e) => set(i, { ...pack, price: e.target.value })} />
          <Field label="Credit" inputMode="decimal" value={pack.allowance} error={errors[`topup_packs.${i}.allowance`]} onChange={(e) => set(i, { ...pack, allowance: e.target.value })} />
          <Field label="Valid (days)" inputMode="numeric" value={pack.validity_days} error={errors[`topup_packs.${i}.validity_days`]} onChange={(e) => set(i, { ...pack, validity_days: e.target.value })} />
          <button type="button" className="secondary small" aria-label={`Remove pack ${i + 1}`} onClick={() => onChange(packs.filter((_, j) => j !== i))}>
            Remove
          </button>
        </fieldset>
      ))}
      <button type="button" className="secondary small" onClick={() => onChange([...packs, emptyPack()])}>
        Add a pack
      </button>
    </fieldset>
  );
}
