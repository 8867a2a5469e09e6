// The reading plan (reading-query.ts decides which rollup answers) and the rollup SQL (readings.repository.ts
// spells its columns) both follow METER_ROLLUPS: every question any rollup can answer builds its SQL.
import { keepsLabel, METER_ROLLUPS } from '../ingest/rollup-sql.js';
import { GROUP_BY_DIMS, METER_FILTERS, readingPlan, type GroupByDim, type VisibilityScope } from './reading-query.js';
import { meterSql } from './readings.repository.js';

describe('meterSql for every plan', () => {
  const from = new Date('2026-03-01T05:00:00Z');
  const to = new Date('2026-03-20T07:00:00Z');
  const now = new Date('2026-06-01T00:00:00Z');
  const scopes: (VisibilityScope | null)[] = [null, { personId: 'p', unitId: 'u' }, { personId: 'p', unitId: null }];

  it('builds a reading from whichever rollups the plan picks, for any dimension, filter and scope', () => {
    const questions: { groupBy: GroupByDim[]; filters: Record<string, string> }[] = [
      ...GROUP_BY_DIMS.map((d) => ({ groupBy: [d], filters: {} })),
      ...METER_FILTERS.map((f) => ({ groupBy: [], filters: { [f]: 'x' } })),
      ...METER_ROLLUPS.map((r) => ({ groupBy: [...r.dims, r.grain] as GroupByDim[], filters: {} })),
    ];
    const rollups = new Set<string>();
    for (const scope of scopes) {
      for (const q of questions) {
        const parts = readingPlan({ from, to, ...q }, scope, now);
        for (const p of parts) rollups.add(p.rollup);
        expect(() => meterSql({ accountId: 'a', parts, groupBy: q.groupBy, filters: q.filters, scope })).not.toThrow();
      }
    }
    expect([...rollups].sort()).toEqual(METER_ROLLUPS.map((r) => r.name).sort());
  });

  it('a reading by label, or of one label, reads only rollups that keep the label', () => {
    const byName = new Map(METER_ROLLUPS.map((r) => [r.name as string, r]));
    const asked: { groupBy: GroupByDim[]; filters: Record<string, string> }[] = [
      ...GROUP_BY_DIMS.map((d) => ({ groupBy: [...new Set<GroupByDim>([d, 'label'])], filters: {} })),
      ...GROUP_BY_DIMS.map((d) => ({ groupBy: [d], filters: { label: 'effective' } })),
      { groupBy: [], filters: { label: 'ineffective' } },
    ];
    const read = new Set<string>();
    for (const scope of scopes) {
      for (const q of asked) {
        for (const p of readingPlan({ from, to, ...q }, scope, now)) {
          read.add(p.rollup);
          expect({ q, rollup: p.rollup, keepsLabel: keepsLabel(byName.get(p.rollup)!) }).toEqual({ q, rollup: p.rollup, keepsLabel: true });
        }
      }
    }
    // and the one that does not keep it answers a reading by hour that does not ask for the label
    expect(METER_ROLLUPS.filter((r) => !keepsLabel(r)).map((r) => r.name)).toEqual(['hours']);
    expect(readingPlan({ from, to, groupBy: ['hour'], filters: {} }, null, now).map((p) => p.rollup)).toEqual(['hours']);
  });

  it('a rollup without the label gives its effective and ineffective sums, mixed with one that keeps it', () => {
    const parts = readingPlan({ from, to, groupBy: [], filters: {} }, null, now);
    expect(new Set(parts.map((p) => p.rollup))).toEqual(new Set(['daily', 'hours']));
    const { sql } = meterSql({ accountId: 'a', parts, groupBy: [], filters: {}, scope: null });
    expect(sql).toContain(`CASE WHEN label = 'effective' THEN (input + cached_input + cache_write + output) ELSE 0 END AS effective`);
    expect(sql).toMatch(/FROM meter_hours WHERE/);
    expect(sql).toContain('SUM(effective), SUM(ineffective)');
  });
});
