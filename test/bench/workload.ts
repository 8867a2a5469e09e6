// The benchmark's workload: an organisation (people, agents, models and their prices) and a stream of
// token events in batches, deterministic per batch index so the ingest and the ceiling see the same rows.
import { createHash } from 'node:crypto';
import { Dec } from '../../tiers/pricing/decimal.js';

export type Tier = 'base' | 'specialized' | 'premier';

export interface ModelSpec {
  id: string;
  tier: Tier;
  provider: string;
  aliases: string[];
}

export const MODELS: readonly ModelSpec[] = [
  { id: 'qwen-turbo', tier: 'base', provider: 'alibaba', aliases: [] },
  { id: 'gpt-4o', tier: 'specialized', provider: 'openai', aliases: ['gpt-4o-2024-08-06'] },
  { id: 'claude-opus', tier: 'premier', provider: 'anthropic', aliases: [] },
];

/** Prices per 1M tokens, as sent in the price book. */
export const PRICES: Record<Tier, Record<string, string>> = {
  base: { input: '0.15', output: '0.60', cached_input: '0.075' },
  specialized: { input: '2.50', output: '10.00', cached_input: '1.25' },
  premier: { input: '15.00', output: '75.00', cached_input: '1.50', cache_write: '18.75' },
};

export const OPERATIONS = ['code.edit', 'code.review', 'approval.create', 'search.docs', 'test.run'] as const;

export interface Person {
  id: string;
  unit: string;
}

export interface Agent {
  id: string;
  person: string;
}

export interface Org {
  account: string;
  units: string[];
  people: Person[];
  agents: Agent[];
}

/** ~10 people in two teams; the first half run two agents each. */
export function makeOrg(account: string, peopleCount = 10): Org {
  const units = ['platform', 'research'];
  const people = Array.from({ length: peopleCount }, (_, i) => ({ id: `person-${i + 1}`, unit: units[i % units.length]! }));
  const agents: Agent[] = [];
  people.forEach((p, i) => {
    agents.push({ id: `agent-${i + 1}-a`, person: p.id });
    if (i < Math.ceil(peopleCount / 2)) agents.push({ id: `agent-${i + 1}-b`, person: p.id });
  });
  return { account, units, people, agents };
}

export interface BenchEvent {
  id: string;
  timestamp: string;
  person_id: string;
  agent_id: string;
  session_id: string;
  session_context: 'internal' | 'external';
  operation: string;
  channel: 'api' | 'cli' | 'mcp' | 'program';
  model?: string;
  usage: { input: number; cached_input: number; output: number; reasoning: number };
  task_id?: string;
  attempt_id?: string;
  outcome?: 'success' | 'failure';
  task_status?: 'succeeded';
  learned_from?: string[];
  /** The budgets phase: the reservation the event commits. */
  reservation_id?: string;
}

export interface Workload {
  run: string;
  org: Org;
  batchSize: number;
  /** Events are spread over [from, to); `to` is at most the generation time. */
  from: number;
  to: number;
}

/** Small, fast, seedable PRNG (mulberry32); a batch's events depend only on the run and its index. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** The agent that reports batch `index` (a batch is one agent's, like a real client's buffer). */
export function agentOf(w: Workload, index: number): Agent {
  return w.org.agents[index % w.org.agents.length]!;
}

export function batchEvents(w: Workload, index: number): BenchEvent[] {
  const r = rng(index * 2654435761 + 17);
  const agent = agentOf(w, index);
  const span = Math.max(1, w.to - w.from - 120_000);
  const base = w.from + Math.floor(r() * span);
  const session = `s${w.run}-${agent.id}-${Math.floor(index / w.org.agents.length / 20)}`;
  const sessionContext = r() < 0.2 ? 'external' : 'internal';
  const events: BenchEvent[] = [];
  let task: { id: string; left: number; attempt: number; previous: string | null } | null = null;
  for (let i = 0; i < w.batchSize; i++) {
    const n = index * w.batchSize + i;
    const left = w.batchSize - i;
    // ~20% of events belong to tasks of 2-5 attempts, each task inside one batch.
    if (task === null && left >= 2 && r() < 0.067) {
      task = { id: `b${w.run}-t${index}-${i}`, left: Math.min(left, int(r, 2, 5)), attempt: 0, previous: null };
    }
    const ts = new Date(Math.min(base + i * 1000 + int(r, 0, 999), w.to)).toISOString();
    const op = OPERATIONS[int(r, 0, OPERATIONS.length - 1)]!;
    const c = r();
    const program = task === null && c < 0.125; // ~10% of all events (tasks take none)
    const event: BenchEvent = {
      id: `b${w.run}-${n}`,
      timestamp: ts,
      person_id: agent.person,
      agent_id: agent.id,
      session_id: session,
      session_context: sessionContext,
      operation: op,
      channel: program ? 'program' : c < 0.5 ? 'api' : c < 0.8 ? 'cli' : 'mcp',
      usage: { input: 0, cached_input: 0, output: 0, reasoning: 0 },
    };
    if (!program) {
      const m = r();
      const model = m < 0.5 ? MODELS[0]! : m < 0.85 ? MODELS[1]! : MODELS[2]!;
      event.model = model.aliases.length > 0 && r() < 0.3 ? model.aliases[0]! : model.id;
      const output = int(r, 50, 2000);
      event.usage = {
        input: int(r, 200, 20_000),
        cached_input: r() < 0.5 ? int(r, 0, 8000) : 0,
        output,
        reasoning: model.tier !== 'base' && r() < 0.4 ? int(r, 0, Math.floor(output / 2)) : 0,
      };
    }
    if (task !== null) {
      const attempt = `${task.id}-a${++task.attempt}`;
      event.task_id = task.id;
      event.attempt_id = attempt;
      const last = task.left === 1;
      event.outcome = last ? 'success' : 'failure';
      if (last && task.previous !== null && r() < 0.5) event.learned_from = [task.previous];
      if (last && r() < 0.3) event.task_status = 'succeeded';
      task.previous = attempt;
      task.left -= 1;
      if (task.left === 0) task = null;
    } else if (!program) {
      const o = r();
      if (o < 0.6) event.outcome = 'success';
      else if (o < 0.7) event.outcome = 'failure';
    }
    events.push(event);
  }
  return events;
}

export function batchBody(events: readonly BenchEvent[]): Buffer {
  return Buffer.from(JSON.stringify({ events }));
}

const MILLION = new Dec(1_000_000);

/** What the price book above charges for an event, by kind (reasoning at the output rate, inside output). */
export function priceOf(e: BenchEvent): Record<'input' | 'cached_input' | 'cache_write' | 'output' | 'reasoning' | 'total', string> | null {
  const zero = { input: '0', cached_input: '0', cache_write: '0', output: '0', reasoning: '0', total: '0' };
  if (e.model === undefined) return zero;
  const model = MODELS.find((m) => m.id === e.model || m.aliases.includes(e.model!))!;
  const rates = PRICES[model.tier];
  const rate = (kind: string) => new Dec(rates[kind] ?? (kind === 'cached_input' || kind === 'cache_write' ? rates.input! : rates.output!));
  const cost = (tokens: number, kind: string) => rate(kind).times(tokens).div(MILLION);
  const parts = {
    input: cost(e.usage.input, 'input'),
    cached_input: cost(e.usage.cached_input, 'cached_input'),
    cache_write: new Dec(0),
    output: cost(e.usage.output - e.usage.reasoning, 'output'),
    reasoning: cost(e.usage.reasoning, 'output'),
  };
  const total = Object.values(parts).reduce((a, b) => a.plus(b), new Dec(0));
  return {
    input: parts.input.toFixed(),
    cached_input: parts.cached_input.toFixed(),
    cache_write: '0',
    output: parts.output.toFixed(),
    reasoning: parts.reasoning.toFixed(),
    total: total.toFixed(),
  };
}

/**
 * The row ingest would store for an event, by `events` column name: what the ceiling inserts. Values are
 * PostgreSQL text forms (or null).
 */
export function eventRow(w: Workload, e: BenchEvent, index: number, receivedAt: Date, seq: number): Record<string, string | null> {
  const person = w.org.people.find((p) => p.id === e.person_id)!;
  const model = e.model === undefined ? null : MODELS.find((m) => m.id === e.model || m.aliases.includes(e.model!))!;
  const cost = priceOf(e);
  const label = e.task_id !== undefined ? (e.outcome === 'success' ? 'effective' : 'ineffective') : e.outcome === 'success' ? 'effective' : e.outcome === 'failure' ? 'ineffective' : 'unclassified';
  return {
    account_id: w.org.account,
    event_id: e.id,
    ts: e.timestamp,
    received_at: receivedAt.toISOString(),
    seq: String(seq + index),
    person_id: e.person_id,
    agent_id: e.agent_id,
    unit_id: person.unit,
    session_id: e.session_id,
    session_context: e.session_context,
    task_id: e.task_id ?? null,
    attempt_id: e.attempt_id ?? null,
    outcome: e.outcome ?? null,
    error_signature: null,
    learned_from: e.learned_from ? JSON.stringify(e.learned_from) : null,
    task_status: e.task_status ?? null,
    operation: e.operation,
    channel: e.channel,
    model_name: e.model ?? null,
    model_id: model?.id ?? null,
    tier: model?.tier ?? null,
    price_book_version: model ? '1' : null,
    rates_used: model ? 'standard' : null,
    usage_format: 'canonical',
    input: String(e.usage.input),
    cached_input: String(e.usage.cached_input),
    cache_write: '0',
    output: String(e.usage.output),
    reasoning: String(e.usage.reasoning),
    cost_input: cost?.input ?? null,
    cost_cached_input: cost?.cached_input ?? null,
    cost_cache_write: cost?.cache_write ?? null,
    cost_output: cost?.output ?? null,
    cost_reasoning: cost?.reasoning ?? null,
    cost: cost?.total ?? null,
    priced: 't',
    label,
    reservation_id: null,
    metadata: null,
    content_hash: createHash('sha256').update(JSON.stringify(e)).digest('hex'),
    allowance_left: '1000000',
    adjustment: 'f',
  };
}

/** A PostgreSQL array literal of text forms; every element quoted, so any element type parses. */
export function pgArray(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    out += v === null || v === undefined ? 'NULL' : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return out + '}';
}
