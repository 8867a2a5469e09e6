// A reading summed from whole days of a day rollup plus (or less) hours of an hourly one equals the same
// reading summed from the full hourly rollup alone, for random ranges, groupings, filters, visibility scopes
// and times of asking, over events reported through POST /v1/events; every rollup answers some of them.
import fc from 'fast-check';
import { ManualClock } from '../src/clock/clock.js';
import { METER_ROLLUPS, type MeterRollupName } from '../metering/ingest/rollup-sql.js';
import { fromSumRow, withRatio } from '../metering/readings/meter-sums.js';
import { GROUP_BY_DIMS, readingPlan, type GroupByDim, type MeterFilters, type RollupPart, type VisibilityScope } from '../metering/readings/reading-query.js';
import { ReadingsRepository, type GroupedSumRow } from '../metering/readings/readings.repository.js';
import { DataSource } from 'typeorm';
import { MeterPeople1764500000000 } from '../migrations/1764500000000-meter-people.js';
import { MeterNarrowRollups1764620000000 } from '../migrations/1764620000000-meter-narrow-rollups.js';
import { MeterHours1766000000000 } from '../migrations/1766000000000-meter-hours.js';
import { MeterUnpriced1766400000000 } from '../migrations/1766400000000-meter-unpriced.js';
import { rollupsByKey, setupPricing } from './support/metering.js';
import { newAccount, newAgent, newKey, newPerson, newUnit, startTestApp, type TestApp } from './support/test-app.js';

const HOUR = 3_600_000;
/** The events lie in [SEED_FROM, NOW + 5 minutes); ranges and times of asking around them. */
const NOW = '2026-03-15T12:55:00.000Z';
const SEED_FROM = Date.parse('2026-03-08T00:00:00Z');
const RANGE_FROM = Date.parse('2026-03-06T00:00:00Z');

/** A small deterministic generator, so a failure is reproducible from the test alone. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe('readings from the day and hourly rollups together', () => {
  let t: TestApp;
  let account: string;
  let repository: ReadingsRepository;
  /** Who reported: three people (two in one unit, one in another), one agent each. */
  const people: { person: string; unit: string; agent: string }[] = [];

  beforeAll(async () => {
    t = await startTestApp({ clock: new ManualClock(NOW) });
    account = (await newAccount(t)).id;
    await setupPricing(t, account);
    const units = [await newUnit(t, account), await newUnit(t, account)];
    const keys: string[] = [];
    for (const unit of [units[0]!, units[0]!, units[1]!]) {
      const person = await newPerson(t, account, unit.id);
      const agent = await newAgent(t, account, person.id);
      people.push({ person: person.id, unit: unit.id, agent: agent.id });
      keys.push((await newKey(t, { role: 'agent', account, agent_id: agent.id })).secret);
    }
    const random = prng(20261124);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const until = Date.parse(NOW) + 4 * 60_000;
    let n = 0;
    for (const key of keys) {
      for (let batch = 0; batch < 4; batch++) {
        const events = Array.from({ length: 50 }, () => {
          const ts = new Date(SEED_FROM + Math.floor(random() * (until - SEED_FROM)));
          const model = pick(['qwen-turbo', 'gpt-4o', 'claude-opus', 'mystery-1', null]);
          return {
            id: `p${n++}`,
            timestamp: ts.toISOString(),
            operation: pick(['search', 'chat.reply', 'deploy']),
            channel: pick(['api', 'cli', 'mcp', 'program']),
            ...(random() < 0.8 ? { session_id: `s${n % 7}`, session_context: pick(['internal', 'external']) } : {}),
            ...(model === null ? {} : { model, usage: { input: Math.floor(random() * 5000), output: Math.floor(random() * 2000) } }),
            ...(random() < 0.7 ? { outcome: pick(['success', 'failure']) } : {}),
          };
        });
        const res = await t.post('/v1/events', { events }, key);
        expect(res.status).toBe(200);
        for (const r of res.body.results) expect(r).toMatchObject({ status: 'accepted' });
      }
    }
    repository = t.app.get(ReadingsRepository);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  /** Rows as a reading shows them: keys, sums, cost in its canonical form, the ratio. */
  const shown = (rows: GroupedSumRow[]) => rows.map((row) => ({ key: row.key, ...withRatio(fromSumRow(row.sums)) }));

  const someOf = (list: readonly GroupByDim[]) => fc.subarray([...list]).chain((picked) => fc.shuffledSubarray(picked, { minLength: picked.length }));
  /** What each rollup answers: its dimensions and its time buckets. */
  const answers = (r: (typeof METER_ROLLUPS)[number]): GroupByDim[] => [...r.dims, 'day', ...(r.grain === 'hour' ? (['hour'] as const) : [])];
  const value = {
    channel: fc.constantFrom('api', 'cli', 'mcp', 'program', 'chat'),
    label: fc.constantFrom('effective', 'ineffective', 'unclassified'),
    model: fc.constantFrom('qwen-turbo', 'gpt-4o', 'mystery-1', 'none'),
    // `people` is filled by beforeAll: pick by index, when a case is generated.
    person: fc.nat(3).map((i) => people[i]?.person ?? 'nobody'),
    unit: fc.nat(2).map((i) => people[i]!.unit),
    agent: fc.nat(2).map((i) => people[i]!.agent),
  };
  /** Some of these dimensions as filters, with a value each. */
  const filtersOf = (dims: readonly GroupByDim[]): fc.Arbitrary<MeterFilters> =>
    fc.record(Object.fromEntries(Object.entries(value).filter(([f]) => dims.includes(f as GroupByDim))), { requiredKeys: [] });
  // Most questions ask (grouped or filtered) only for what one rollup keeps, each rollup in turn; some ask for
  // any dimensions at all, which mostly only the full hourly rollup keeps.
  const questions = fc.oneof(
    ...METER_ROLLUPS.map((r) => fc.record({ groupBy: someOf(answers(r)), filters: filtersOf(answers(r)) })),
    fc.record({ groupBy: someOf(GROUP_BY_DIMS), filters: filtersOf(GROUP_BY_DIMS) }),
  );
  /** Finance (no scope), or a member: their own usage, and their unit's when they have one. */
  const scopes: fc.Arbitrary<VisibilityScope | null> = fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(2), fc.boolean()).map(([i, inUnit]): VisibilityScope => ({ personId: people[i]!.person, unitId: inUnit ? people[i]!.unit : null })) },
  );

  it('equal the hourly rollup alone, for random ranges, groupings, filters, scopes and times of asking', async () => {
    const seen = new Map<MeterRollupName, number>();
    const mixed = { added: 0, takenAway: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 11 * 24 }),
        fc.integer({ min: 1, max: 10 * 24 }),
        fc.integer({ min: 0, max: 13 * 24 * 60 }),
        questions,
        scopes,
        async (startHour, hours, askedMinute, { groupBy, filters }, scope) => {
          const from = new Date(RANGE_FROM + startHour * HOUR);
          const to = new Date(from.getTime() + hours * HOUR);
          const now = new Date(RANGE_FROM + askedMinute * 60_000);
          const parts = readingPlan({ from, to, groupBy, filters }, scope, now);
          for (const rollup of new Set(parts.map((p) => p.rollup))) seen.set(rollup, (seen.get(rollup) ?? 0) + 1);
          const byDay = new Set(METER_ROLLUPS.filter((r) => r.grain === 'day').map((r) => r.name as MeterRollupName));
          if (parts.some((p) => byDay.has(p.rollup)) && parts.some((p) => !byDay.has(p.rollup) && p.sign === 1)) mixed.added++;
          if (parts.some((p) => p.sign === -1)) mixed.takenAway++;
          const hourlyOnly: RollupPart[] = [{ rollup: 'hourly', from, to, sign: 1 }];
          const spec = { accountId: account, groupBy, filters, scope };
          const planned = shown(await repository.meterSums({ ...spec, parts }));
          const reference = shown(await repository.meterSums({ ...spec, parts: hourlyOnly }));
          expect(planned).toEqual(reference);
        },
      ),
      { numRuns: 1000, seed: 1764620000 },
    );
    // The runs did go through every rollup, and through plans that add and take away hours.
    for (const r of METER_ROLLUPS) expect({ rollup: r.name, seen: (seen.get(r.name) ?? 0) > 20 }).toEqual({ rollup: r.name, seen: true });
    expect(mixed.added).toBeGreaterThan(20);
    expect(mixed.takenAway).toBeGreaterThan(20);
  });

  it('migrations 1764500000000, 1764620000000 and 1766000000000 fill the rollups they add from the hourly ones, and 1766400000000 every unpriced sum from the events, as ingest keeps them', async () => {
    const kept = await rollupsByKey(t, account);
    const unpriced = (rows: unknown[]) => rows.reduce<number>((n, r) => n + Number((r as { unpriced: string }).unpriced), 0);
    for (const r of METER_ROLLUPS) expect({ rollup: r.name, rows: kept[r.name].kept }).toEqual({ rollup: r.name, rows: kept[r.name].raw });
    // The seed's mystery-1 is never priced: every rollup holds its tokens as unpriced.
    for (const r of METER_ROLLUPS) expect(unpriced(kept[r.name].kept)).toBeGreaterThan(0);
    const runner = t.app.get(DataSource).createQueryRunner();
    try {
      // As on a database written before these rollups existed: their tables are made and filled from hourly
      // rows, and then every rollup's unpriced tokens from the events.
      await new MeterUnpriced1766400000000().down(runner);
      await new MeterHours1766000000000().down(runner);
      await new MeterNarrowRollups1764620000000().down(runner);
      await runner.query('DROP TABLE meter_daily_people');
      await new MeterPeople1764500000000().up(runner);
      await new MeterNarrowRollups1764620000000().up(runner);
      await new MeterHours1766000000000().up(runner);
      await new MeterUnpriced1766400000000().up(runner);
    } finally {
      await runner.release();
    }
    const filled = await rollupsByKey(t, account);
    for (const r of METER_ROLLUPS) expect({ rollup: r.name, rows: filled[r.name].kept }).toEqual({ rollup: r.name, rows: kept[r.name].raw });
  });

  it('the whole seeded period, grouped by day, has rows from both rollups', async () => {
    const from = new Date(SEED_FROM);
    const to = new Date('2026-03-15T13:00:00.000Z');
    const parts = readingPlan({ from, to, groupBy: ['day'], filters: {} }, null, new Date(NOW));
    expect(parts.map((p) => [p.rollup, p.sign])).toEqual([
      ['daily', 1],
      ['hours', -1],
    ]);
    const spec = { accountId: account, groupBy: ['day'] as GroupByDim[], filters: {}, scope: null };
    const planned = shown(await repository.meterSums({ ...spec, parts }));
    expect(planned.map((r) => r.key.day)).toEqual(['2026-03-08', '2026-03-09', '2026-03-10', '2026-03-11', '2026-03-12', '2026-03-13', '2026-03-14', '2026-03-15']);
    expect(planned.reduce((n, r) => n + r.calls, 0)).toBe(people.length * 4 * 50);
    expect(planned).toEqual(shown(await repository.meterSums({ ...spec, parts: [{ rollup: 'hourly', from, to, sign: 1 }] })));
  });
});
