// Specifies effective-spend classification: one example per rule of PRODUCT.md section 5, relabelling on close,
// and properties (incremental equals from-scratch, order independence, conservation of tokens and cost).
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import {
  applyDeltas,
  checkLearnedFrom,
  classifyStandalone,
  classifyTask,
  effectiveRatio,
  relabelDeltas,
  SPEND_LABELS,
  totalsByLabel,
  validateTaskEvents,
  ZERO_TOTALS,
  type LabelTotals,
  type Outcome,
  type SpendLabel,
  type TaskEvent,
  type TaskStatus,
} from './classify.js';

const T0 = Date.parse('2025-03-01T09:00:00.000Z');
let counter = 0;

/** An event at minute `minute` of the task; keys and sequences follow creation order. */
function ev(minute: number, fields: Partial<TaskEvent> = {}): TaskEvent {
  counter += 1;
  return {
    event_key: `ev-${counter}`,
    attempt_id: null,
    outcome: null,
    error_signature: null,
    learned_from: null,
    tokens: 100,
    cost: '0.001000000000',
    timestamp: new Date(T0 + minute * 60_000).toISOString(),
    sequence: counter,
    ...fields,
  };
}

function labels(status: TaskStatus, events: readonly TaskEvent[]): SpendLabel[] {
  const result = classifyTask(status, events);
  return events.map((e) => result.labels.get(e.event_key) ?? 'unclassified');
}

describe('classifyStandalone: events without a task', () => {
  it('success is effective, failure ineffective, absent unclassified', () => {
    expect(classifyStandalone('success')).toBe('effective');
    expect(classifyStandalone('failure')).toBe('ineffective');
    expect(classifyStandalone(null)).toBe('unclassified');
    expect(classifyStandalone(undefined)).toBe('unclassified');
  });
});

describe('classifyTask: the rules of section 5', () => {
  it("an attempt's outcome is the outcome of its last event that has one", () => {
    const failedThenFixed = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E' }),
      ev(1, { attempt_id: 'a', outcome: 'success' }),
      ev(2, { attempt_id: 'a' }),
    ];
    expect(classifyTask('open', failedThenFixed).attempts[0]?.outcome).toBe('success');
    expect(labels('open', failedThenFixed)).toEqual(['effective', 'effective', 'effective']);

    const succeededThenBroke = [
      ev(0, { attempt_id: 'a', outcome: 'success' }),
      ev(1, { attempt_id: 'a', outcome: 'failure' }),
      ev(2, { attempt_id: 'a', outcome: null }),
    ];
    expect(classifyTask('open', succeededThenBroke).attempts[0]?.outcome).toBe('failure');
    expect(labels('failed', succeededThenBroke)).toEqual(['ineffective', 'ineffective', 'ineffective']);
  });

  it('an event with a task and no attempt_id is its own attempt (attempt key = event key)', () => {
    const failure = ev(0, { outcome: 'failure' });
    const success = ev(1, { outcome: 'success' });
    const silent = ev(2);
    const result = classifyTask('open', [failure, success, silent]);
    expect(result.attempts.map((a) => [a.attempt_key, a.attempt_id])).toEqual([
      [failure.event_key, null],
      [success.event_key, null],
      [silent.event_key, null],
    ]);
    expect(labels('open', [failure, success, silent])).toEqual(['pending', 'effective', 'pending']);
  });

  it('attempt success is effective whatever the task status', () => {
    const events = [ev(0, { attempt_id: 'a', outcome: 'success' })];
    for (const status of ['open', 'succeeded', 'failed', 'abandoned'] as const) {
      expect(labels(status, events)).toEqual(['effective']);
    }
  });

  it('task open: failed attempts and attempts without outcome are pending', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E' }),
      ev(1, { attempt_id: 'b' }),
      ev(2, { attempt_id: 'c', outcome: 'success' }),
    ];
    expect(labels('open', events)).toEqual(['pending', 'pending', 'effective']);
  });

  it.each(['failed', 'abandoned'] as const)('task %s: every attempt that did not succeed is ineffective', (status) => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E' }),
      ev(1, { attempt_id: 'b' }),
      ev(2, { attempt_id: 'c', outcome: 'success' }),
      ev(3, { attempt_id: 'd', outcome: 'failure', learned_from: ['a'] }),
    ];
    expect(labels(status, events)).toEqual(['ineffective', 'ineffective', 'effective', 'ineffective']);
  });

  it('task succeeded: attempts without outcome are effective', () => {
    const events = [ev(0, { attempt_id: 'a' }), ev(1, { attempt_id: 'b', outcome: 'success' })];
    expect(labels('succeeded', events)).toEqual(['effective', 'effective']);
  });

  it('task succeeded, explicit lineage: exactly the listed attempts were learned from', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E1' }),
      ev(1, { attempt_id: 'b', outcome: 'failure', error_signature: 'E2' }),
      ev(2, { attempt_id: 'c', outcome: 'failure', error_signature: 'E1' }),
      ev(3, { attempt_id: 'd', outcome: 'success', learned_from: ['c'] }),
    ];
    // Without the listing, a and b (first of each signature) would be learned from; with it, only c is.
    expect(labels('succeeded', events)).toEqual(['ineffective', 'ineffective', 'effective', 'effective']);
    expect(classifyTask('succeeded', events).attempts.map((a) => a.learned_from)).toEqual([false, false, true, false]);
  });

  it('task succeeded, explicit lineage: any attempt may list, even a failed one', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E1' }),
      ev(1, { attempt_id: 'b', outcome: 'failure', error_signature: 'E2', learned_from: ['a'] }),
      ev(2, { attempt_id: 'c', outcome: 'success' }),
    ];
    expect(labels('succeeded', events)).toEqual(['effective', 'ineffective', 'effective']);
  });

  it('task succeeded, no lineage: the first failure of each signature was learned from, repeats were not', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'timeout' }),
      ev(1, { attempt_id: 'b', outcome: 'failure', error_signature: 'timeout' }),
      ev(2, { attempt_id: 'c', outcome: 'failure', error_signature: 'auth' }),
      ev(3, { attempt_id: 'd', outcome: 'failure', error_signature: 'timeout' }),
      ev(4, { attempt_id: 'e', outcome: 'success' }),
    ];
    expect(labels('succeeded', events)).toEqual(['effective', 'ineffective', 'effective', 'ineffective', 'effective']);
  });

  it('task succeeded, no lineage: failures without a signature share one signature', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure' }),
      ev(1, { attempt_id: 'b', outcome: 'failure' }),
      ev(2, { outcome: 'failure' }), // its own attempt, same (absent) signature
      ev(3, { attempt_id: 'c', outcome: 'failure', error_signature: 'null' }), // the string "null" is a real signature
      ev(4, { attempt_id: 'd', outcome: 'success' }),
    ];
    expect(labels('succeeded', events)).toEqual(['effective', 'ineffective', 'ineffective', 'effective', 'effective']);
  });

  it("the signature is the one on the event that decided the attempt's outcome", () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E1' }),
      ev(1, { attempt_id: 'b', outcome: 'failure', error_signature: 'E1' }),
      ev(2, { attempt_id: 'b', outcome: 'failure', error_signature: 'E2' }), // b finally failed on E2
      ev(3, { attempt_id: 'c', outcome: 'success' }),
    ];
    const result = classifyTask('succeeded', events);
    expect(result.attempts.map((a) => [a.attempt_key, a.error_signature, a.label])).toEqual([
      ['a', 'E1', 'effective'],
      ['b', 'E2', 'effective'],
      ['c', null, 'effective'],
    ]);
  });

  it('"first" means the attempt that started first', () => {
    // b starts before a, both fail on E; b is first even though its failure is reported later.
    const events = [
      ev(0, { attempt_id: 'b' }),
      ev(1, { attempt_id: 'a', outcome: 'failure', error_signature: 'E' }),
      ev(2, { attempt_id: 'b', outcome: 'failure', error_signature: 'E' }),
      ev(3, { attempt_id: 'c', outcome: 'success' }),
    ];
    const result = classifyTask('succeeded', events);
    expect(result.attempts.map((a) => [a.attempt_key, a.label])).toEqual([
      ['b', 'effective'],
      ['a', 'ineffective'],
      ['c', 'effective'],
    ]);
  });

  it('all events of an attempt get the attempt label', () => {
    const events = [
      ev(0, { attempt_id: 'a', tokens: 10 }),
      ev(1, { attempt_id: 'a', tokens: 20, outcome: 'failure', error_signature: 'E' }),
      ev(2, { attempt_id: 'a', tokens: 30 }),
      ev(3, { attempt_id: 'b', outcome: 'failure', error_signature: 'E' }),
      ev(4, { attempt_id: 'b', tokens: 0 }),
      ev(5, { attempt_id: 'c', outcome: 'success' }),
    ];
    expect(labels('succeeded', events)).toEqual([
      'effective', 'effective', 'effective', 'ineffective', 'ineffective', 'effective',
    ]);
    expect(classifyTask('succeeded', events).attempts[0]?.event_keys).toEqual(events.slice(0, 3).map((e) => e.event_key));
  });

  it('an empty learned_from lists nothing, so the signature rule still applies', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'failure', error_signature: 'E', learned_from: [] }),
      ev(1, { attempt_id: 'b', outcome: 'success', learned_from: [] }),
    ];
    expect(labels('succeeded', events)).toEqual(['effective', 'effective']);
  });

  it('learned_from may name an attempt without attempt_id by its event key', () => {
    const loose = ev(0, { outcome: 'failure', error_signature: 'E' });
    const repeat = ev(1, { outcome: 'failure', error_signature: 'E' });
    const fix = ev(2, { attempt_id: 'fix', outcome: 'success', learned_from: [repeat.event_key] });
    expect(labels('succeeded', [loose, repeat, fix])).toEqual(['ineffective', 'effective', 'effective']);
  });

  it('an attempt_id spelled like an event key is still a different attempt', () => {
    const loose = ev(0, { outcome: 'success' });
    const clash = ev(1, { attempt_id: loose.event_key, outcome: 'failure', error_signature: 'E' });
    const result = classifyTask('failed', [loose, clash]);
    expect(result.attempts).toHaveLength(2);
    expect(labels('failed', [loose, clash])).toEqual(['effective', 'ineffective']);
  });

  it('orders events by time of the operation (offsets honoured), then ingest sequence, then key', () => {
    // Arrives first but happened last: 10:30+02:00 is 08:30Z, after the 08:00Z success.
    const lateFailure = { ...ev(0, { attempt_id: 'a', outcome: 'failure' }), timestamp: '2025-03-01T10:30:00+02:00', sequence: 1 };
    const success = { ...ev(0, { attempt_id: 'a', outcome: 'success' }), timestamp: '2025-03-01T08:00:00Z', sequence: 2 };
    expect(classifyTask('open', [lateFailure, success]).attempts[0]?.outcome).toBe('failure');

    const sameInstantA = { ...ev(0, { attempt_id: 'a', outcome: 'success' }), sequence: 7 };
    const sameInstantB = { ...ev(0, { attempt_id: 'a', outcome: 'failure' }), sequence: 6 };
    expect(classifyTask('open', [sameInstantA, sameInstantB]).attempts[0]?.outcome).toBe('success');
  });

  it('never labels task events unclassified, and labels every event', () => {
    const events = [ev(0), ev(1, { attempt_id: 'x' })];
    for (const status of ['open', 'succeeded', 'failed', 'abandoned'] as const) {
      const result = classifyTask(status, events);
      expect(result.labels.size).toBe(2);
      expect([...result.labels.values()]).not.toContain('unclassified');
    }
    expect(classifyTask('open', []).labels.size).toBe(0);
  });
});

describe('validation', () => {
  it('rejects learned_from naming attempts that are not in the task', () => {
    const a = ev(0, { attempt_id: 'a', outcome: 'failure' });
    const b = ev(1, { attempt_id: 'b', outcome: 'success', learned_from: ['a', 'ghost'] });
    expect(checkLearnedFrom(b, [a])).toEqual([
      expect.objectContaining({ code: 'learned_from_unknown_attempt', event_key: b.event_key, field: 'learned_from' }),
    ]);
    expect(checkLearnedFrom(b, [a, b]).map((i) => i.code)).toEqual(['learned_from_unknown_attempt']);
    expect(checkLearnedFrom({ ...b, learned_from: ['a'] }, [a])).toEqual([]);
    expect(checkLearnedFrom({ ...b, learned_from: null }, [])).toEqual([]);
  });

  it('rejects an attempt that lists itself', () => {
    const a = ev(0, { attempt_id: 'a', outcome: 'failure', learned_from: ['a'] });
    expect(checkLearnedFrom(a, [a]).map((i) => i.code)).toEqual(['learned_from_self']);
    const loose = ev(1, { outcome: 'failure' });
    const self = { ...loose, learned_from: [loose.event_key] };
    expect(checkLearnedFrom(self, [self]).map((i) => i.code)).toEqual(['learned_from_self']);
  });

  it('reports duplicate keys and malformed tokens, cost, timestamp and sequence', () => {
    const good = ev(0);
    const issues = validateTaskEvents([
      good,
      { ...good },
      ev(1, { tokens: -1 }),
      ev(2, { tokens: 1.5 }),
      ev(3, { cost: '1e-3' }),
      ev(4, { cost: '-0.5' }),
      ev(5, { timestamp: 'yesterday' }),
      ev(6, { sequence: Number.NaN }),
      ev(7, { attempt_id: 'z', learned_from: ['nope'] }),
    ]);
    expect(issues.map((i) => i.code)).toEqual([
      'duplicate_event_key',
      'invalid_tokens',
      'invalid_tokens',
      'invalid_cost',
      'invalid_cost',
      'invalid_timestamp',
      'invalid_sequence',
      'learned_from_unknown_attempt',
    ]);
    expect(validateTaskEvents([ev(0, { attempt_id: 'a' }), ev(1, { attempt_id: 'b', learned_from: ['a'] })])).toEqual([]);
  });
});

describe('relabelling moves tokens and cost between labels', () => {
  const openTask = (): TaskEvent[] => [
    ev(0, { attempt_id: 'a1', outcome: 'failure', error_signature: 'X', tokens: 100, cost: '0.100000000001' }),
    ev(1, { attempt_id: 'a2', outcome: 'failure', error_signature: 'X', tokens: 50, cost: '0.05' }),
    ev(2, { attempt_id: 'a3', outcome: 'success', tokens: 30, cost: '0.03' }),
    ev(3, { attempt_id: 'a4', tokens: 20, cost: '0.02' }),
  ];

  function sumDeltas(deltas: LabelTotals): { tokens: number; cost: string } {
    let cost = new Decimal(0);
    let tokens = 0;
    for (const label of SPEND_LABELS) {
      tokens += deltas[label].tokens;
      cost = cost.plus(deltas[label].cost);
    }
    return { tokens, cost: cost.toFixed() };
  }

  it.each([
    ['succeeded', { effective: [120, '0.120000000001'], ineffective: [50, '0.05'], pending: [-170, '-0.170000000001'] }],
    ['failed', { effective: [0, '0'], ineffective: [170, '0.170000000001'], pending: [-170, '-0.170000000001'] }],
    ['abandoned', { effective: [0, '0'], ineffective: [170, '0.170000000001'], pending: [-170, '-0.170000000001'] }],
  ] as const)('open -> %s', (status, expected) => {
    const events = openTask();
    const before = classifyTask('open', events);
    const after = classifyTask(status, events);
    const deltas = relabelDeltas(events, before.labels, after.labels);
    expect(deltas).toEqual({
      effective: { tokens: expected.effective[0], cost: expected.effective[1] },
      ineffective: { tokens: expected.ineffective[0], cost: expected.ineffective[1] },
      pending: { tokens: expected.pending[0], cost: expected.pending[1] },
      unclassified: { tokens: 0, cost: '0' },
    });
    expect(sumDeltas(deltas)).toEqual({ tokens: 0, cost: '0' });
    // The reading after applying the deltas equals a recomputation from the raw events.
    const reading = applyDeltas(totalsByLabel(events, before.labels), deltas);
    expect(reading).toEqual(totalsByLabel(events, after.labels));
    const all = SPEND_LABELS.reduce((n, l) => n + reading[l].tokens, 0);
    expect(all).toBe(200);
  });

  it('a new event is added under its label; a withdrawn one is taken out', () => {
    const events = openTask();
    const withNew = [...events, ev(4, { attempt_id: 'a5', outcome: 'success', tokens: 7, cost: '0.007' })];
    const deltas = relabelDeltas(withNew, classifyTask('open', events).labels, classifyTask('open', withNew).labels);
    expect(deltas.effective).toEqual({ tokens: 7, cost: '0.007' });
    expect(sumDeltas(deltas)).toEqual({ tokens: 7, cost: '0.007' });
    const withdrawn = relabelDeltas(withNew, classifyTask('open', withNew).labels, new Map());
    expect(sumDeltas(withdrawn)).toEqual({ tokens: -207, cost: '-0.207000000001' });
  });

  it('sums cost exactly, far past 20 significant digits, never in exponent notation', () => {
    const events = [
      ev(0, { attempt_id: 'a', outcome: 'success', cost: '123456789012.123456789012' }),
      ev(1, { attempt_id: 'b', outcome: 'success', cost: '0.000000000001' }),
      ev(2, { attempt_id: 'c', outcome: 'success', cost: '0.1' }),
      ev(3, { attempt_id: 'd', outcome: 'success', cost: '0.2' }),
    ];
    expect(totalsByLabel(events, classifyTask('open', events).labels).effective.cost).toBe('123456789012.423456789013');
    const tiny = [ev(0, { outcome: 'success', cost: '0.0000001' })];
    expect(totalsByLabel(tiny, classifyTask('open', tiny).labels).effective.cost).toBe('0.0000001');
  });

  it('refuses non-decimal cost strings instead of guessing', () => {
    const events = [ev(0, { outcome: 'success', cost: '1e3' })];
    expect(() => totalsByLabel(events, classifyTask('open', events).labels)).toThrow(TypeError);
  });

  it('effective ratio = effective / (effective + ineffective) tokens, undefined (null) without either', () => {
    const events = openTask();
    expect(effectiveRatio(totalsByLabel(events, classifyTask('succeeded', events).labels))).toBeCloseTo(150 / 200);
    expect(effectiveRatio(totalsByLabel(events, classifyTask('open', [events[0]!]).labels))).toBeNull();
    expect(effectiveRatio(ZERO_TOTALS)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties

const ATTEMPT_IDS = ['a1', 'a2', 'a3', 'a4'];
const STATUSES: readonly TaskStatus[] = ['open', 'succeeded', 'failed', 'abandoned'];

const costString = fc
  .tuple(fc.nat({ max: 1_000_000 }), fc.nat({ max: 999_999 }), fc.nat({ max: 999_999 }))
  .map(([units, high, low]) => `${units}.${String(high).padStart(6, '0')}${String(low).padStart(6, '0')}`);

/** An event's fields; key and sequence are assigned by position, time is drawn (collisions included). */
const eventFields = fc.record({
  attempt_id: fc.option(fc.constantFrom(...ATTEMPT_IDS), { nil: null, freq: 3 }),
  outcome: fc.option(fc.constantFrom<Outcome>('success', 'failure'), { nil: null, freq: 3 }),
  error_signature: fc.option(fc.constantFrom('E1', 'E2', 'E3'), { nil: null, freq: 3 }),
  learned_from: fc.option(fc.subarray(ATTEMPT_IDS), { nil: null, freq: 2 }),
  tokens: fc.oneof(fc.nat({ max: 2_000 }), fc.nat({ max: 10_000_000 })),
  cost: costString,
  minute: fc.nat({ max: 30 }),
});

type EventFields = typeof eventFields extends fc.Arbitrary<infer T> ? T : never;

function toEvent(fields: EventFields, index: number): TaskEvent {
  const { minute, ...rest } = fields;
  return { ...rest, event_key: `k${index}`, sequence: index, timestamp: new Date(T0 + minute * 60_000).toISOString() };
}

const taskEvents = fc.array(eventFields, { maxLength: 25 }).map((list) => list.map(toEvent));
const taskStatus = fc.constantFrom(...STATUSES);

type Op = { readonly kind: 'event'; readonly fields: EventFields } | { readonly kind: 'status'; readonly status: TaskStatus };
const ops = fc.array(
  fc.oneof(
    { arbitrary: eventFields.map((fields): Op => ({ kind: 'event', fields })), weight: 4 },
    { arbitrary: taskStatus.map((status): Op => ({ kind: 'status', status })), weight: 1 },
  ),
  { maxLength: 30 },
);

function tokensOf(totals: LabelTotals): number {
  return SPEND_LABELS.reduce((n, label) => n + totals[label].tokens, 0);
}

function costOf(totals: LabelTotals): string {
  return SPEND_LABELS.reduce((sum, label) => sum.plus(totals[label].cost), new Decimal(0)).toFixed();
}

function decimalSum(events: readonly TaskEvent[]): string {
  return events.reduce((sum, e) => sum.plus(e.cost), new Decimal(0)).toFixed();
}

describe('classification properties', () => {
  it('(a) incremental classification with applied deltas equals classifying from scratch', () => {
    fc.assert(
      fc.property(ops, (steps) => {
        const events: TaskEvent[] = [];
        let status: TaskStatus = 'open';
        let reading: LabelTotals = ZERO_TOTALS;
        let previous: ReadonlyMap<string, SpendLabel> = new Map();
        for (const step of steps) {
          let added = 0;
          if (step.kind === 'event') {
            const event = toEvent(step.fields, events.length);
            events.push(event);
            added = event.tokens;
          } else {
            status = step.status;
          }
          const current = classifyTask(status, events);
          const deltas = relabelDeltas(events, previous, current.labels);
          // A status change only moves spend; an appended event adds exactly its own tokens.
          expect(tokensOf(deltas)).toBe(added);
          reading = applyDeltas(reading, deltas);
          previous = current.labels;
        }
        const scratch = classifyTask(status, events);
        expect(previous).toEqual(scratch.labels);
        expect(reading).toEqual(totalsByLabel(events, scratch.labels));
      }),
      { numRuns: 300 },
    );
  });

  it('(b) labels depend only on the multiset of events and the status, not on input order', () => {
    fc.assert(
      fc.property(
        taskEvents.chain((events) =>
          fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length })),
        ),
        taskStatus,
        ([events, shuffled], status) => {
          const reference = classifyTask(status, events);
          expect(classifyTask(status, shuffled)).toEqual(reference);
          expect(classifyTask(status, structuredClone(events))).toEqual(reference);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('(c) tokens and cost summed over labels equal the task totals', () => {
    fc.assert(
      fc.property(taskEvents, taskStatus, (events, status) => {
        const totals = totalsByLabel(events, classifyTask(status, events).labels);
        expect(tokensOf(totals)).toBe(events.reduce((n, e) => n + e.tokens, 0));
        expect(costOf(totals)).toBe(decimalSum(events));
      }),
      { numRuns: 300 },
    );
  });

  it('(d) effective ratio is in [0, 1] whenever it is defined', () => {
    fc.assert(
      fc.property(taskEvents, taskStatus, (events, status) => {
        const totals = totalsByLabel(events, classifyTask(status, events).labels);
        const ratio = effectiveRatio(totals);
        if (totals.effective.tokens + totals.ineffective.tokens === 0) {
          expect(ratio).toBeNull();
        } else {
          expect(ratio).not.toBeNull();
          expect(ratio).toBeGreaterThanOrEqual(0);
          expect(ratio).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('labels respect the status: open never ineffective, closed never pending, tasks never unclassified', () => {
    fc.assert(
      fc.property(taskEvents, taskStatus, (events, status) => {
        const result = classifyTask(status, events);
        const used = new Set(result.labels.values());
        expect(result.labels.size).toBe(events.length);
        expect(used.has('unclassified')).toBe(false);
        if (status === 'open') expect(used.has('ineffective')).toBe(false);
        else expect(used.has('pending')).toBe(false);
        for (const attempt of result.attempts) {
          for (const key of attempt.event_keys) expect(result.labels.get(key)).toBe(attempt.label);
          if (attempt.outcome === 'success') expect(attempt.label).toBe('effective');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('closing a task only moves spend: deltas from open to any status sum to zero tokens and zero cost', () => {
    fc.assert(
      fc.property(taskEvents, fc.constantFrom<TaskStatus>('succeeded', 'failed', 'abandoned'), (events, status) => {
        const deltas = relabelDeltas(events, classifyTask('open', events).labels, classifyTask(status, events).labels);
        expect(tokensOf(deltas)).toBe(0);
        expect(costOf(deltas)).toBe('0');
        // Only pending spend moves, and it all leaves pending.
        expect(deltas.pending.tokens).toBeLessThanOrEqual(0);
        expect(deltas.effective.tokens).toBeGreaterThanOrEqual(0);
        expect(deltas.ineffective.tokens).toBeGreaterThanOrEqual(0);
        expect(deltas.unclassified).toEqual({ tokens: 0, cost: '0' });
      }),
      { numRuns: 300 },
    );
  });
});
