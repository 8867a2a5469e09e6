// Shared set-up for metering tests: a catalog, a price book, a plan and a subscription; and the check
// that the rollups equal what the raw events say.
import { DataSource } from 'typeorm';
import { DIMENSION_COLUMNS, fillRollupsSql, keepsLabel, METER_ROLLUPS, ROLLUP_TABLES, type MeterDim, type MeterRollupName } from '../../metering/ingest/rollup-sql.js';
import { RebuildService } from '../../metering/rebuild/rebuild.service.js';
import type { TestApp } from './test-app.js';

export async function setupPricing(t: TestApp, account: string, options: { allowance?: string } = {}): Promise<void> {
  const models = [
    ['qwen-turbo', 'base', 'alibaba', []],
    ['gpt-4o', 'specialized', 'openai', ['gpt-4o-2024-08-06']],
    ['claude-opus', 'premier', 'anthropic', []],
  ] as const;
  for (const [id, tier, provider, aliases] of models) {
    const res = await t.request('PUT', `/v1/models/${id}`, { body: { tier, provider, aliases } });
    if (res.status >= 300) throw new Error(`model ${id}: ${res.status} ${res.text}`);
  }
  const book = await t.post('/v1/price-books', {
    effective_from: '2026-01-01T00:00:00Z',
    correction: true,
    tiers: {
      base: { input: '0.50', output: '1.50' },
      specialized: { input: '2.50', cached_input: '1.25', output: '10.00' },
      premier: { input: '15.00', cached_input: '1.50', cache_write: '18.75', output: '75.00' },
    },
  });
  if (book.status >= 300 && book.status !== 409) throw new Error(`price book: ${book.status} ${book.text}`);
  const plan = await t.request('PUT', '/v1/plans/team', {
    body: { currency: 'EUR', base_fee: '100.00', included_allowance: options.allowance ?? '50.00', overage_policy: 'bill' },
  });
  if (plan.status >= 300) throw new Error(`plan: ${plan.status} ${plan.text}`);
  const sub = await t.request('PUT', `/v1/accounts/${account}/subscription`, {
    body: { plan_id: 'team', start_date: '2026-01-01', billing_anchor_day: 1 },
  });
  if (sub.status >= 300) throw new Error(`subscription: ${sub.status} ${sub.text}`);
}

interface Totals {
  /** Absent for a rollup without the label, which gives its effective and ineffective tokens instead. */
  label?: string;
  effective?: string;
  ineffective?: string;
  calls: string;
  tokens: string;
  cost: string;
  unpriced: string;
}

const SUMS_TEXT = `sum(calls)::text AS calls, sum(input + cached_input + cache_write + output)::text AS tokens,
  coalesce(sum(cost), 0)::numeric(40,18)::text AS cost, sum(unpriced)::text AS unpriced`;
/** The raw events with the columns a rollup sums them into: a call each, and their tokens as unpriced while they are. */
const RAW_EVENTS = `(SELECT *, 1 AS calls, CASE WHEN priced THEN 0 ELSE input + cached_input + cache_write + output END AS unpriced FROM events) e`;

/** The effective and ineffective tokens, from the label (raw events, rollups keeping it) or the sums a rollup without it keeps. */
const SPLIT_TEXT = {
  labelled: ['effective', 'ineffective']
    .map((l) => `coalesce(sum(input + cached_input + cache_write + output) FILTER (WHERE label = '${l}'), 0)::text AS ${l}`)
    .join(', '),
  kept: 'sum(effective)::text AS effective, sum(ineffective)::text AS ineffective',
};

/**
 * Per-label totals of the raw events and of every meter rollup (by its name); a rollup without the label
 * gives one row of totals with its effective and ineffective tokens.
 */
export async function labelTotals(t: TestApp, account: string): Promise<{ raw: Totals[] } & Record<MeterRollupName, Totals[]>> {
  const db = t.app.get(DataSource);
  const q = (from: string) =>
    db.query(`SELECT label, ${SUMS_TEXT} FROM ${from} WHERE account_id = $1 GROUP BY label HAVING sum(calls) <> 0 ORDER BY label`, [
      account,
    ]) as Promise<Totals[]>;
  const split = (from: string) =>
    db.query(`SELECT ${SUMS_TEXT}, ${SPLIT_TEXT.kept} FROM ${from} WHERE account_id = $1 HAVING sum(calls) <> 0`, [account]) as Promise<Totals[]>;
  const totals: Record<string, Totals[]> = { raw: await q(RAW_EVENTS) };
  for (const r of METER_ROLLUPS) totals[r.name] = keepsLabel(r) ? await q(r.table) : await split(r.table);
  return totals as { raw: Totals[] } & Record<MeterRollupName, Totals[]>;
}

/** How the raw events give each dimension a rollup keeps (written here apart from rollup-sql.ts, to check it). */
const RAW_DIMENSION: Record<MeterDim, string> = {
  model: `coalesce(model_id, model_name, '')`,
  tier: `coalesce(tier, '')`,
  unit: `coalesce(unit_id, '')`,
  person: `coalesce(person_id, '')`,
  agent: `coalesce(agent_id, '')`,
  operation: `coalesce(operation, '')`,
  channel: `coalesce(channel, '')`,
  label: 'label',
  session_context: `coalesce(session_context, '')`,
};

/**
 * Every meter rollup summed by its whole key (UTC hour or day, and each dimension it keeps, across shards),
 * beside the raw events summed the same way: equal when the rollup holds exactly what the events say.
 */
export async function rollupsByKey(t: TestApp, account: string): Promise<Record<MeterRollupName, { raw: unknown[]; kept: unknown[] }>> {
  const db = t.app.get(DataSource);
  const out: Partial<Record<MeterRollupName, { raw: unknown[]; kept: unknown[] }>> = {};
  for (const r of METER_ROLLUPS) {
    const time = r.grain === 'hour' ? [`(hour AT TIME ZONE 'UTC')`, `date_trunc('hour', ts AT TIME ZONE 'UTC')`] : ['day', `(ts AT TIME ZONE 'UTC')::date`];
    const groups = r.dims.map((_, i) => i + 2).join(', ');
    const split = keepsLabel(r) ? null : SPLIT_TEXT;
    const q = (from: string, when: string, dims: readonly string[], splitText: string | null) =>
      db.query(
        `SELECT ${[`${when}::text AS at`, ...dims.map((d, i) => `${d} AS d${i}`), SUMS_TEXT, ...(splitText === null ? [] : [splitText])].join(', ')}
           FROM ${from} WHERE account_id = $1 GROUP BY ${['1', groups].filter(Boolean).join(', ')} HAVING sum(calls) <> 0
          ORDER BY ${['1', groups].filter(Boolean).join(', ')}`,
        [account],
      ) as Promise<unknown[]>;
    out[r.name] = {
      raw: await q(RAW_EVENTS, time[1]!, r.dims.map((d) => RAW_DIMENSION[d]), split?.labelled ?? null),
      kept: await q(r.table, time[0]!, r.dims.map((d) => DIMENSION_COLUMNS[d]), split?.kept ?? null),
    };
  }
  return out as Record<MeterRollupName, { raw: unknown[]; kept: unknown[] }>;
}

export async function labelsOf(t: TestApp, account: string): Promise<Record<string, string>> {
  const rows = (await t.app.get(DataSource).query('SELECT event_id, label FROM events WHERE account_id = $1', [account])) as {
    event_id: string;
    label: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.event_id, r.label]));
}

/** Cost per day two ways: raw events and the spend rollup the allowance reading is computed from. */
export async function spendByDay(t: TestApp, account: string): Promise<{ raw: { day: string; cost: string }[]; spend: { day: string; cost: string }[] }> {
  const db = t.app.get(DataSource);
  const q = (sql: string) => db.query(sql, [account]) as Promise<{ day: string; cost: string }[]>;
  return {
    raw: await q(`SELECT (ts AT TIME ZONE 'UTC')::date::text AS day, sum(cost)::numeric(40,18)::text AS cost FROM events
                   WHERE account_id = $1 GROUP BY 1 HAVING coalesce(sum(cost), 0) <> 0 ORDER BY 1`),
    spend: await q(`SELECT day::text, sum(cost)::numeric(40,18)::text AS cost FROM meter_spend_daily
                     WHERE account_id = $1 GROUP BY 1 HAVING sum(cost) <> 0 ORDER BY 1`),
  };
}

/** Every rollup of the account (each meter rollup by its whole key, and the spend) equals what its raw events say. */
export async function expectRollupsMatchRaw(t: TestApp, account: string): Promise<void> {
  for (const [rollup, { raw, kept }] of Object.entries(await rollupsByKey(t, account))) {
    expect({ rollup, rows: kept }).toEqual({ rollup, rows: raw });
  }
  const spend = await spendByDay(t, account);
  expect(spend.raw.length).toBeGreaterThan(0);
  expect(spend.spend).toEqual(spend.raw);
}

/** The labels ingest gave are the ones a rebuild from raw events gives: it relabels nothing. Returns them. */
export async function expectLabelsAsRebuilt(t: TestApp, account: string): Promise<Record<string, string>> {
  const labels = await labelsOf(t, account);
  expect((await t.app.get(RebuildService).rebuild(account)).relabelled).toBe(0);
  expect(await labelsOf(t, account)).toEqual(labels);
  return labels;
}

/**
 * An account's rollups rewritten as concurrent ingest writers would have left them: each event's contribution
 * in one of the 8 writers' shards, chosen by a hash of its id and `seed`. Straight SQL: no service code runs.
 */
export async function spreadOverShards(db: DataSource, accountId: string, seed: number): Promise<void> {
  await db.transaction(async (tx) => {
    for (const table of ROLLUP_TABLES) await tx.query(`DELETE FROM ${table} WHERE account_id = $1`, [accountId]);
    const events = `(SELECT *, 1 AS sign FROM events WHERE account_id = $1)`;
    for (const sql of fillRollupsSql(events, `(abs(hashtext(event_id || '${seed}')) % 8)::smallint`)) await tx.query(sql, [accountId]);
  });
}
