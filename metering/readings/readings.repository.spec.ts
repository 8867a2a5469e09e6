// The reading plan (reading-query.ts decides which rollup answers) and the rollup SQL (readings.repository.ts
// spells its columns) both follow METER_ROLLUPS: every question any rollup can answer builds its SQL.
import { METER_ROLLUPS } from '../ingest/rollup-sql.js';
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

  it('every rollup keeps the label: a reading splits effective from ineffective tokens by it', () => {
    for (const r of METER_ROLLUPS) expect({ rollup: r.name, label: (r.dims as readonly string[]).includes('label') }).toEqual({ rollup: r.name, label: true });
  });
});
