// Readings of the meter: totals by any dimension from the rollups, the per-operation listing, and the
// running totals the live stream starts from. A member or agent key only ever sees its person and unit.
import { Inject, Injectable } from '@nestjs/common';
import { AccountsError, AccountsErrorCode } from '../../src/accounts/accounts.errors.js';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { isOperator, type Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { RequestError } from '../../src/http/domain-error.js';
import type { JsonOf } from '../../src/http/openapi.js';
import type { StreamScope } from '../stream/stream-totals.js';
import { decodeCursor, encodeCursor } from './event-cursor.js';
import { HourlyReadings } from './hourly-readings.js';
import { toEventView, type EventView } from './event-view.js';
import { readingRows, type MeterReading, type MeterSums } from './meter-sums.js';
import {
  METER_FILTERS,
  monthStart,
  nextMonthStart,
  parseGroupBy,
  parseListRange,
  parseMeterRange,
  readingPlan,
  type GroupByDim,
  type MeterFilters,
  type MeterQuery,
  type RollupPart,
  type VisibilityScope,
} from './reading-query.js';
import { EVENT_FILTERS, ReadingsRepository, type EventFilter } from './readings.repository.js';

export type MeterQueryParams = Partial<Record<'from' | 'to' | 'group_by' | (typeof METER_FILTERS)[number], string>>;
export type EventQueryParams = Partial<Record<'from' | 'to' | 'cursor' | EventFilter, string>>;

export interface EventPage {
  data: EventView[];
  next_cursor: string | null;
}

export interface PeriodTotals {
  from: Date;
  to: Date;
  totals: MeterSums;
}

@Injectable()
export class ReadingsService {
  constructor(
    private readonly repository: ReadingsRepository,
    private readonly accounts: AccountsRepository,
    private readonly hourly: HourlyReadings,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * What a principal may see of an account: null for the whole account (finance and operators), else
   * their person plus the unit that person is in now. An operator gets a 404 for an unknown account.
   */
  async scopeOf(principal: Principal, accountId: string): Promise<VisibilityScope | null> {
    if (isOperator(principal)) {
      if (!(await this.accounts.findAccount(accountId))) {
        throw new AccountsError(AccountsErrorCode.AccountNotFound, `Account "${accountId}" was not found.`);
      }
      return null;
    }
    if (principal.role !== 'member' && principal.role !== 'agent') return null;
    if (principal.personId === null) throw new Error(`a ${principal.role} key without a person`);
    const person = await this.accounts.findPerson(accountId, principal.personId);
    return { personId: principal.personId, unitId: person?.unit_id ?? null };
  }

  /**
   * What a live stream of the account shows this key: what its readings show (a member's or agent's own
   * person and the people of its unit), narrowed to `person` when asked; a member or agent may name itself
   * or a person now in its unit.
   */
  async streamScope(principal: Principal, accountId: string, person: string | undefined): Promise<StreamScope> {
    const visible = await this.scopeOf(principal, accountId);
    if (visible !== null && person !== undefined && person !== visible.personId) {
      const named = await this.accounts.findPerson(accountId, person);
      if (named === null || visible.unitId === null || named.unit_id !== visible.unitId) {
        throw new RequestError('person_not_visible', 'A member or agent key streams its own person and the people of its unit only.', { field: 'person' }, 'forbidden');
      }
    }
    return { person: person ?? null, visible };
  }

  async meter(principal: Principal, accountId: string, params: MeterQueryParams): Promise<MeterReading> {
    const { query, scope, now } = await this.meterQuery(principal, accountId, params);
    return this.read(accountId, query, scope, now);
  }

  /**
   * The reading as GET /meter answers it in JSON: the account-wide reading by hour as its ready text
   * (HourlyReadings, the same bytes JSON.stringify of `meter` would give), any other as `meter` does.
   */
  async meterJson(principal: Principal, accountId: string, params: MeterQueryParams): Promise<MeterReading | JsonOf<MeterReading>> {
    const { query, scope, now } = await this.meterQuery(principal, accountId, params);
    const parts = readingPlan(query, scope, now);
    if (this.hourly.answers(query, scope, parts)) return this.hourly.body(accountId, query);
    return this.readParts(accountId, query, scope, parts);
  }

  private async meterQuery(principal: Principal, accountId: string, params: MeterQueryParams): Promise<{ query: MeterQuery; scope: VisibilityScope | null; now: Date }> {
    const now = this.clock.now();
    const range = parseMeterRange(params.from, params.to, now);
    const filters: MeterFilters = {};
    for (const f of METER_FILTERS) if (params[f] !== undefined) filters[f] = params[f];
    const query: MeterQuery = { ...range, groupBy: parseGroupBy(params.group_by), filters };
    return { query, scope: await this.scopeOf(principal, accountId), now };
  }

  async events(principal: Principal, accountId: string, params: EventQueryParams, limit: number): Promise<EventPage> {
    const { from, to } = parseListRange(params.from, params.to);
    const after = params.cursor === undefined ? null : decodeCursor(params.cursor);
    const filters: Partial<Record<EventFilter, string>> = {};
    for (const f of EVENT_FILTERS) if (params[f] !== undefined) filters[f] = params[f];
    const scope = await this.scopeOf(principal, accountId);
    const rows = await this.repository.listEvents({ accountId, from, to, filters, scope, after, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      data: page.map(toEventView),
      next_cursor: rows.length > limit && last ? encodeCursor({ tsMicros: last.ts_us, eventId: last.event_id }) : null,
    };
  }

  /** This calendar month's (UTC) totals so far for the whole account or one person: where a stream starts. */
  async periodTotals(accountId: string, personId: string | null, scope: VisibilityScope | null = null): Promise<PeriodTotals> {
    const now = this.clock.now();
    const from = monthStart(now);
    const to = nextMonthStart(now);
    const reading = await this.read(accountId, { from, to, groupBy: [], filters: personId === null ? {} : { person: personId } }, scope, now);
    return { from, to, totals: reading.totals };
  }

  /**
   * The whole account's sums over [from, to) (whole hours) grouped by `groupBy`, with no visibility scope:
   * for other modules that read the meter on the account's behalf (budgets read spend by unit and person).
   */
  async sums(accountId: string, from: Date, to: Date, groupBy: readonly GroupByDim[], filters: MeterFilters = {}): Promise<MeterReading> {
    return this.read(accountId, { from, to, groupBy: [...groupBy], filters }, null, this.clock.now());
  }

  private read(accountId: string, q: MeterQuery, scope: VisibilityScope | null, now: Date): Promise<MeterReading> {
    return this.readParts(accountId, q, scope, readingPlan(q, scope, now));
  }

  private async readParts(accountId: string, q: MeterQuery, scope: VisibilityScope | null, parts: RollupPart[]): Promise<MeterReading> {
    const sqlRows = await this.repository.meterRows({ accountId, parts, groupBy: q.groupBy, filters: q.filters, scope });
    const { rows, totals } = readingRows(sqlRows, q.groupBy);
    return { from: q.from.toISOString(), to: q.to.toISOString(), group_by: [...q.groupBy], rows, totals };
  }
}
