import { groupReport, type GroupCounters } from './groups.js';

const counters = (entries: Record<string, number>): GroupCounters => ({ values: new Map(Object.entries(entries)) });

describe('bench group report', () => {
  it('reports the writes between two readings of /metrics, by path', () => {
    const before = counters({
      tokenmeter_ingest_group_requests_count: 10,
      tokenmeter_ingest_group_requests_sum: 12,
      tokenmeter_ingest_group_events_sum: 600,
      'tokenmeter_ingest_write_seconds_count{path="statement"}': 10,
      'tokenmeter_ingest_write_seconds_sum{path="statement"}': 0.05,
    });
    const after = counters({
      tokenmeter_ingest_group_requests_count: 110,
      tokenmeter_ingest_group_requests_sum: 312,
      tokenmeter_ingest_group_events_sum: 15_600,
      'tokenmeter_ingest_write_seconds_count{path="statement"}': 30,
      'tokenmeter_ingest_write_seconds_sum{path="statement"}': 0.25,
      'tokenmeter_ingest_write_seconds_count{path="new_tasks"}': 80,
      'tokenmeter_ingest_write_seconds_sum{path="new_tasks"}': 0.8,
      'tokenmeter_ingest_writes_refused_total{path="new_tasks"}': 2,
      'tokenmeter_ingest_writes_refused_total{path="transaction"}': 1,
    });
    const report = groupReport(before, after)!;
    expect(report.writes).toBe(100);
    expect(report.requests_per_write).toBe(3);
    expect(report.events_per_write).toBe(150);
    expect(report.paths.statement!.writes).toBe(20);
    expect(report.paths.statement!.mean_ms).toBeCloseTo(10, 9);
    expect(report.paths.new_tasks!.mean_ms).toBeCloseTo(10, 9);
    expect(report.refused).toBe(3);
  });

  it('is null when nothing was written', () => {
    expect(groupReport(counters({}), counters({}))).toBeNull();
  });
});
