// How the service grouped the load's writes, read from its own /metrics before and after the measured
// load (so the warm-up is left out): writes, requests and events per write, and write time by path.
import type { HttpClient } from './http.js';

export interface GroupCounters {
  /** Per metric series (name plus labels): the value. */
  values: Map<string, number>;
}

export interface GroupReport {
  writes: number;
  requests_per_write: number;
  events_per_write: number;
  /** Per path (`statement`, `new_tasks`, `transaction`): writes and their mean duration in ms. */
  paths: Record<string, { writes: number; mean_ms: number }>;
  /** Writes refused by their guard (and written again), on any path. */
  refused: number;
}

const WANTED = /^(tokenmeter_ingest_group_(?:requests|events)_(?:sum|count)|tokenmeter_ingest_write_seconds_(?:sum|count)|tokenmeter_ingest_writes_refused_total)(\{[^}]*\})? ([0-9.eE+-]+)$/;
const PATH = /^tokenmeter_ingest_write_seconds_count\{path="([a-z_]+)"\}$/;

export async function groupCounters(api: HttpClient): Promise<GroupCounters> {
  const reply = await api.request('GET', '/metrics');
  const values = new Map<string, number>();
  for (const line of reply.body.toString('utf8').split('\n')) {
    const m = WANTED.exec(line);
    if (m) values.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return { values };
}

/** The difference of two readings as a report; null when the service wrote nothing in between. */
export function groupReport(before: GroupCounters, after: GroupCounters): GroupReport | null {
  const d = (key: string) => (after.values.get(key) ?? 0) - (before.values.get(key) ?? 0);
  const writes = d('tokenmeter_ingest_group_requests_count');
  if (writes <= 0) return null;
  const paths: GroupReport['paths'] = {};
  const names = [...after.values.keys()].flatMap((k) => PATH.exec(k)?.[1] ?? []);
  for (const path of names) {
    const n = d(`tokenmeter_ingest_write_seconds_count{path="${path}"}`);
    if (n > 0) paths[path] = { writes: n, mean_ms: (1000 * d(`tokenmeter_ingest_write_seconds_sum{path="${path}"}`)) / n };
  }
  return {
    writes,
    requests_per_write: d('tokenmeter_ingest_group_requests_sum') / writes,
    events_per_write: d('tokenmeter_ingest_group_events_sum') / writes,
    paths,
    refused: [...after.values.keys()].filter((k) => k.startsWith('tokenmeter_ingest_writes_refused_total')).reduce((n, k) => n + d(k), 0),
  };
}
