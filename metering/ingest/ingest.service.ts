// POST /v1/events, top to bottom: check each event on its own, fill in who (the agent, its owner), price
// it, hand the rows to the writer (which groups concurrent requests of the account and writes each group
// in one go, IngestWriter.writeGroup: ids claimed, tasks classified, events stored with their rollups and,
// through the UsageCounters port in the same write, reservations committed and spend counted), and
// answer each event with its own result: the reading after it and what became of its reservation.
import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { PricingCacheService } from '../../tiers/pricing/pricing-cache.service.js';
import { billingPeriod } from '../../tiers/subscriptions/billing-period.js';
import { SubscriptionsService } from '../../tiers/subscriptions/subscriptions.service.js';
import { classifyStandalone, type SpendLabel } from '../classification/classify.js';
import { MeteringError, MeteringErrorCode } from '../metering.errors.js';
import {
  contentHash,
  differingFields,
  MAX_BATCH,
  namedUnitRejection,
  prepareEvent,
  type PreparedEvent,
  type Rejection,
} from './event-input.js';
import type { NewEventRow, StoredEvent } from './event-row.js';
import { EventsRepository } from './events.repository.js';
import { IngestWriter } from './ingest-writer.js';
import { fromStored, ignoredFieldsOf, withCounters, type AcceptedResult, type EventResult } from './event-result.js';
import { IgnoredUsageFieldsService } from '../usage/ignored-usage-fields.service.js';

interface AccountContext {
  anchorDay: number | null;
  allowance: string | null;
  /** When a cancelled subscription ends: from then on there is no allowance (the context may be loaded before). */
  endsAt: Date | null;
  closed: { period_start: Date; period_end: Date }[];
  loadedAt: number;
}

/** How long per-account billing context may be reused: a plan change shows in readings within this. */
const CONTEXT_TTL_MS = 1000;

@Injectable()
export class IngestService {
  private readonly contexts = new Map<string, AccountContext>();

  constructor(
    private readonly events: EventsRepository,
    private readonly writer: IngestWriter,
    private readonly pricing: PricingCacheService,
    private readonly subscriptions: SubscriptionsService,
    private readonly ignoredFields: IgnoredUsageFieldsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async ingest(principal: Principal, rawEvents: readonly unknown[]): Promise<{ results: EventResult[]; accepted: StoredEvent[] }> {
    if (principal.role !== 'agent' || principal.accountId === null || principal.agentId === null || principal.personId === null) {
      throw new MeteringError(MeteringErrorCode.NotAnAgentKey, 'Events are reported with an agent key.');
    }
    if (rawEvents.length > MAX_BATCH) {
      throw new MeteringError(MeteringErrorCode.BatchTooLarge, `A batch holds at most ${MAX_BATCH} events; this one has ${rawEvents.length}.`, {
        field: 'events',
      });
    }
    const accountId = principal.accountId;
    const now = this.clock.now();
    const results: EventResult[] = new Array(rawEvents.length);
    const reject = (r: Rejection) => {
      results[r.index] = r;
    };

    // 1. Each event on its own: schema, usage, timestamp, who.
    const firstById = new Map<string, PreparedEvent>();
    const sameAsEarlier: { event: PreparedEvent; first: PreparedEvent }[] = [];
    let candidates: PreparedEvent[] = [];
    for (let i = 0; i < rawEvents.length; i++) {
      const prepared = prepareEvent(rawEvents[i], i, now);
      if ('status' in prepared) {
        reject(prepared);
        continue;
      }
      const who = this.who(principal, prepared);
      if (who) {
        reject(who);
        continue;
      }
      const first = firstById.get(prepared.id);
      if (first) {
        sameAsEarlier.push({ event: prepared, first });
        continue;
      }
      firstById.set(prepared.id, prepared);
      candidates.push(prepared);
    }

    // An event that names a unit must name its person's unit at its time; only then is it read (one query).
    if (candidates.some((e) => e.unit_id !== null)) {
      const named = [...new Set(candidates.filter((e) => e.unit_id !== null).map((e) => e.unit_id!))];
      const { existing, moves } = await this.events.namedUnits(accountId, principal.personId, named);
      candidates = candidates.filter((e) => {
        const rejection = namedUnitRejection(e, existing, moves);
        if (rejection) reject(rejection);
        return rejection === null;
      });
    }

    const context = await this.context(accountId);
    const pricer = await this.pricing.pricer();
    await this.events.ensurePartitions(candidates.map((e) => e.ts));
    const receivedMs = now.getTime();
    const subscribed = context.endsAt === null || now.getTime() < context.endsAt.getTime();
    const period = context.allowance !== null && context.anchorDay !== null && subscribed ? billingPeriod(context.anchorDay, now) : null;

    // 2. The rows, priced; events in a task are labelled when the writer classifies their task. The
    //    writer groups this request with others of the account and answers after the commit.
    const rows = new Map<string, NewEventRow>();
    for (const e of candidates) {
      const label: SpendLabel = e.task_id === null ? classifyStandalone(e.outcome) : 'pending';
      rows.set(e.id, this.row(accountId, e, price(pricer, e), label, context, now));
    }
    const written = await this.writer.write({
      accountId,
      events: candidates,
      rows,
      receivedMs,
      closedBy: principal.keyId,
      allowance: period && { amount: context.allowance!, periodStart: period.start, periodEnd: period.end },
    });
    for (const r of written.rejected) reject(r);
    const stored = written.stored;

    // 3. Ids that were not new: the same event again (duplicate), or another one under a used id (conflict).
    const seen = written.repeated;
    if (seen.length) {
      const originals = new Map((await this.events.findByIds(accountId, seen.map((e) => e.id))).map((o) => [o.event_id, o]));
      for (const e of seen) {
        const original = originals.get(e.id);
        if (!original) throw new Error(`event ${e.id} was neither stored nor found`);
        results[e.index] =
          sameEvent(e, original)
            ? { index: e.index, status: 'duplicate', ...fromStored(original), ...ignoredFieldsOf(e) }
            : conflict(e, original);
      }
    }

    const withIgnoredFields: PreparedEvent[] = [];
    for (const row of stored) {
      const e = firstById.get(row.event_id)!;
      results[e.index] = { index: e.index, status: 'accepted', ...withCounters(fromStored(row), row, written.readings.get(row.event_id)), ...ignoredFieldsOf(e) };
      if (e.ignored_usage_fields.length > 0) withIgnoredFields.push(e);
    }
    if (withIgnoredFields.length > 0) await this.ignoredFields.record(withIgnoredFields, now);
    for (const { event, first } of sameAsEarlier) {
      const original = results[first.index];
      if (original && (original.status === 'accepted' || original.status === 'duplicate') && event.content_hash === first.content_hash) {
        const { ignored_usage_fields: _theirs, ...rest } = original as AcceptedResult;
        results[event.index] = { ...rest, index: event.index, status: 'duplicate', ...ignoredFieldsOf(event) };
      } else if (event.content_hash !== first.content_hash) {
        results[event.index] = {
          index: event.index,
          id: event.id,
          status: 'conflict',
          code: 'id_conflict',
          message: `Event "${event.id}" appears earlier in this batch with different content.`,
          fields: differingFields(event, first),
        };
      } else {
        results[event.index] = { ...(original as Rejection), index: event.index };
      }
    }
    return { results, accepted: stored };
  }

  private row(
    accountId: string,
    e: PreparedEvent,
    price: PriceOutcome,
    label: SpendLabel,
    context: AccountContext,
    now: Date,
  ): NewEventRow {
    return {
      account_id: accountId,
      event_id: e.id,
      ts: e.ts,
      received_at: now,
      seq: now.getTime() * 1000 + e.index,
      person_id: e.person_id,
      agent_id: e.agent_id,
      unit_id: e.unit_id, // none given: the writer attributes it to the person's unit at the event's time
      session_id: e.session_id,
      session_context: e.session_context,
      task_id: e.task_id,
      attempt_id: e.attempt_id,
      outcome: e.outcome,
      error_signature: e.error_signature,
      learned_from: e.learned_from,
      task_status: e.task_status,
      operation: e.operation,
      channel: e.channel,
      model_name: e.model_name,
      model_id: price.model_id,
      tier: price.tier,
      price_book_version: price.book_version,
      rates_used: price.rates_used,
      usage_format: e.usage_format,
      input: String(e.usage.input),
      cached_input: String(e.usage.cached_input),
      cache_write: String(e.usage.cache_write),
      output: String(e.usage.output),
      reasoning: String(e.usage.reasoning),
      cost_input: price.cost?.input ?? null,
      cost_cached_input: price.cost?.cached_input ?? null,
      cost_cache_write: price.cost?.cache_write ?? null,
      cost_output: price.cost?.output ?? null,
      cost_reasoning: price.cost?.reasoning ?? null,
      cost: price.cost?.total ?? null,
      priced: price.cost !== null || e.model_name === null,
      label,
      reservation_id: e.reservation_id,
      metadata: e.metadata,
      content_hash: e.content_hash,
      allowance_left: null, // computed by the write, in order, against the period's metered cost
      adjustment: context.closed.some((p) => e.ts >= p.period_start && e.ts < p.period_end),
    };
  }

  /** An agent reports for itself and acts for its owner; anything else in the event is refused. */
  private who(principal: Principal, e: PreparedEvent): Rejection | null {
    if (e.agent_id !== null && e.agent_id !== principal.agentId) {
      return { index: e.index, id: e.id, status: 'rejected', code: 'agent_mismatch', message: `This key reports for agent "${principal.agentId}" only.`, field: 'agent_id' };
    }
    if (e.person_id !== null && e.person_id !== principal.personId) {
      return { index: e.index, id: e.id, status: 'rejected', code: 'person_mismatch', message: `Agent "${principal.agentId}" acts for "${principal.personId}" only.`, field: 'person_id' };
    }
    e.agent_id = principal.agentId;
    e.person_id = principal.personId;
    return null;
  }

  private async context(accountId: string): Promise<AccountContext> {
    const cached = this.contexts.get(accountId);
    const nowMs = performance.now();
    if (cached && nowMs - cached.loadedAt < CONTEXT_TTL_MS) return cached;
    const [billing, closed] = await Promise.all([
      this.subscriptions.billingContext(accountId),
      this.events.closedPeriods(accountId),
    ]);
    const context: AccountContext = {
      anchorDay: billing?.anchor_day ?? null,
      allowance: billing?.terms.included_allowance ?? null,
      endsAt: billing?.ends_at ?? null,
      closed,
      loadedAt: nowMs,
    };
    this.contexts.set(accountId, context);
    return context;
  }
}

interface PriceOutcome {
  model_id: string | null;
  tier: string | null;
  book_version: number | null;
  rates_used: string | null;
  cost: { input: string; cached_input: string; cache_write: string; output: string; reasoning: string; total: string } | null;
}

const ZERO_CALL: PriceOutcome = {
  model_id: null,
  tier: null,
  book_version: null,
  rates_used: null,
  cost: { input: '0', cached_input: '0', cache_write: '0', output: '0', reasoning: '0', total: '0' },
};

function price(pricer: Pricer, e: PreparedEvent): PriceOutcome {
  if (e.model_name === null) return ZERO_CALL;
  const result = pricer(e.usage, e.model_name, e.ts);
  if (result.status !== 'priced') {
    return { model_id: result.model?.id ?? null, tier: result.model?.tier ?? null, book_version: null, rates_used: null, cost: null };
  }
  const c = result.priced.cost_by_kind;
  return {
    model_id: result.model.id,
    tier: result.model.tier,
    book_version: result.book_version,
    rates_used: result.priced.rates_used,
    cost: { input: c.input, cached_input: c.cached_input, cache_write: c.cache_write, output: c.output, reasoning: c.reasoning, total: result.priced.total },
  };
}

type Pricer = Awaited<ReturnType<PricingCacheService['pricer']>>;

/**
 * The same event again: the same content, where an event that names no unit and one that names its
 * person's unit are the same (an event can only name that one, so the stored unit is it either way).
 */
function sameEvent(e: PreparedEvent, original: StoredEvent): boolean {
  if (original.content_hash === e.content_hash) return true;
  if (e.unit_id !== null && e.unit_id !== original.unit_id) return false;
  return contentHash({ ...e, ...e.sent_who, unit_id: e.unit_id === null ? original.unit_id : null }) === original.content_hash;
}

function conflict(e: PreparedEvent, original: StoredEvent): EventResult {
  const fields = differingFields(e, {
    id: original.event_id,
    ts: original.ts,
    person_id: original.person_id,
    agent_id: original.agent_id,
    // The stored unit is derived when the event named none: compared only when this request names one.
    unit_id: e.unit_id === null ? null : original.unit_id,
    session_id: original.session_id,
    session_context: original.session_context,
    task_id: original.task_id,
    attempt_id: original.attempt_id,
    outcome: original.outcome,
    error_signature: original.error_signature,
    learned_from: original.learned_from,
    task_status: original.task_status,
    operation: original.operation,
    channel: original.channel,
    model_name: original.model_name,
    usage: {
      input: Number(original.input),
      cached_input: Number(original.cached_input),
      cache_write: Number(original.cache_write),
      output: Number(original.output),
      reasoning: Number(original.reasoning),
    },
    usage_format: original.usage_format,
    reservation_id: original.reservation_id,
    metadata: original.metadata,
  });
  return {
    index: e.index,
    id: e.id,
    status: 'conflict',
    code: 'id_conflict',
    message: `Event "${e.id}" was already recorded with different ${fields.length ? fields.join(', ') : 'content'}.`,
    fields,
  };
}


