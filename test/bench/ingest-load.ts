// The ingest load: ready request bodies sent as `POST /v1/events` over N keep-alive connections, each
// caller sending its next batch as soon as the previous answer arrived (closed loop).
import { countStatuses, type HttpClient } from './http.js';
import { Samples, type Summary } from './stats.js';

export interface IngestBatch {
  body: Buffer;
  key: string;
  events: number;
}

export interface IngestResult {
  events: number;
  requests: number;
  ms: number;
  latency: Summary;
  statuses: Record<string, number>;
  /** A few answers that were not all-accepted, for diagnosis. */
  problems: string[];
}

export async function runIngest(
  client: HttpClient,
  batches: readonly IngestBatch[],
  concurrency: number,
  progress: (done: number, ms: number) => void,
  /** Latencies are added here: share one between the slices of a phase, and `latency` covers them all. */
  samples: Samples = new Samples(batches.length),
): Promise<IngestResult> {
  const already = samples.length;
  const statuses = new Map<string, number>();
  const problems: string[] = [];
  let next = 0;
  let doneEvents = 0;
  const started = performance.now();
  const timer = setInterval(() => progress(doneEvents, performance.now() - started), 5000);
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let b = next++; b < batches.length; b = next++) {
          const batch = batches[b]!;
          let reply;
          try {
            reply = await client.request('POST', '/v1/events', { key: batch.key, body: batch.body });
          } catch (error) {
            statuses.set('network_error', (statuses.get('network_error') ?? 0) + batch.events);
            if (problems.length < 5) problems.push(`batch ${b}: ${(error as Error).message}`);
            continue;
          }
          samples.add(reply.ms);
          doneEvents += batch.events;
          const text = reply.body.toString('utf8');
          if (reply.status !== 200) {
            statuses.set(`http_${reply.status}`, (statuses.get(`http_${reply.status}`) ?? 0) + batch.events);
            if (problems.length < 5) problems.push(`batch ${b}: HTTP ${reply.status} ${text.slice(0, 300)}`);
            continue;
          }
          const before = statuses.get('accepted') ?? 0;
          const counted = countStatuses(text, statuses);
          if ((statuses.get('accepted') ?? 0) - before !== batch.events || counted !== batch.events) {
            if (problems.length < 5) {
              const results = (JSON.parse(text) as { results: { status: string }[] }).results.filter((r) => r.status !== 'accepted');
              problems.push(`batch ${b}: ${JSON.stringify(results.slice(0, 3))}`);
            }
          }
        }
      }),
    );
  } finally {
    clearInterval(timer);
  }
  const ms = performance.now() - started;
  return { events: doneEvents, requests: samples.length - already, ms, latency: samples.summary(), statuses: Object.fromEntries(statuses), problems };
}

/** Two slices of one load as one: counts and times add up; `later`'s latency covers both (shared samples). */
export function addIngest(earlier: IngestResult | null, later: IngestResult): IngestResult {
  if (!earlier) return later;
  const statuses: Record<string, number> = { ...earlier.statuses };
  for (const [k, v] of Object.entries(later.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  return {
    events: earlier.events + later.events,
    requests: earlier.requests + later.requests,
    ms: earlier.ms + later.ms,
    latency: later.latency,
    statuses,
    problems: [...earlier.problems, ...later.problems].slice(0, 5),
  };
}
