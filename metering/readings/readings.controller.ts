// GET /v1/accounts/:account/meter and /events: JSON by default, CSV for `Accept: text/csv` (or
// `format=csv`, for a browser download link). Thin: check the query, call the service, pick the format.
import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { ApiJsonQuery, Responds, type JsonOf } from '../../src/http/openapi.js';
import { parseLimit, SchemaPipe, slugParam, type JsonSchema } from '../../src/http/validation.js';
import { SPEND_LABELS } from '../classification/classify.js';
import { CHANNELS } from '../ingest/event-input.js';
import { eventsCsv, meterCsv, wantsCsv } from './csv.js';
import type { MeterReading } from './meter-sums.js';
import { GROUP_BY_DIMS } from './reading-query.js';
import { CsvSchema, EventPageSchema, MeterReadingSchema } from './readings.schemas.js';
import { ReadingsService, type EventPage, type EventQueryParams, type MeterQueryParams } from './readings.service.js';

const text = { type: 'string', minLength: 1, maxLength: 255 } as const;
const common = {
  from: { type: 'string', maxLength: 64 },
  to: { type: 'string', maxLength: 64 },
  person: text,
  unit: text,
  agent: text,
  model: text,
  channel: { type: 'string', enum: [...CHANNELS] },
  label: { type: 'string', enum: [...SPEND_LABELS] },
  format: { type: 'string', enum: ['json', 'csv'] },
} as const;

export const meterQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { ...common, group_by: { type: 'string', maxLength: 200 } },
} as const satisfies JsonSchema;

export const eventsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...common,
    task: text,
    operation: { type: 'string', minLength: 1, maxLength: 200 },
    session: text,
    cursor: { type: 'string', maxLength: 1024 },
    limit: { type: 'string', maxLength: 8 },
  },
} as const satisfies JsonSchema;

/** Where a CSV page of events, which has no field for it, carries the next page's cursor. */
const NEXT_CURSOR_HEADER = 'x-next-cursor';

type Format = { format?: 'json' | 'csv' };

function csvWanted(query: Format, accept: string | undefined): boolean {
  return query.format === 'csv' || (query.format === undefined && wantsCsv(accept));
}

function sendCsv(reply: FastifyReply, filename: string, body: string): string {
  void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`);
  return body;
}

@ApiTags('metering')
@Controller('v1/accounts/:account')
export class ReadingsController {
  constructor(private readonly readings: ReadingsService) {}

  @Get('meter')
  @Allow('admin', 'sales', 'finance', 'member', 'agent')
  @ApiOperation({
    summary: 'Meter totals over a range, grouped by any dimensions',
    description:
      '`from`/`to` are RFC 3339 times on whole hours (default: this calendar month, UTC, up to the end of the ' +
      `current hour; at most 400 days). \`group_by\` is a comma list of ${GROUP_BY_DIMS.join(', ')}. ` +
      'Filters: person, unit, agent, model, channel, label. Each row has calls, tokens by kind, cost (exact decimal ' +
      'string) and the effective ratio; absent dimensions are null. A member or agent key sees only its person ' +
      'and its unit. `Accept: text/csv` (or `format=csv`) answers CSV with one `key_<dim>` column per dimension.',
  })
  @ApiJsonQuery(meterQuerySchema)
  @Responds(200, MeterReadingSchema, { alternatives: { 'text/csv': CsvSchema } })
  async meter(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(meterQuerySchema)) query: MeterQueryParams & Format,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<MeterReading | JsonOf<MeterReading> | string> {
    if (csvWanted(query, accept)) return sendCsv(reply, `meter-${account}.csv`, meterCsv(await this.readings.meter(principal, account, query)));
    const reading = await this.readings.meterJson(principal, account, query);
    if (Buffer.isBuffer(reading)) void reply.header('content-type', 'application/json; charset=utf-8');
    return reading;
  }

  @Get('events')
  @Allow('admin', 'sales', 'finance', 'member', 'agent')
  @ApiOperation({
    summary: 'Per-operation listing, newest first',
    description:
      'Keyset-paged: pass `next_cursor` back as `cursor` (`limit` 1 to 1000, default 100). Filters: from, to ' +
      '(RFC 3339), person, agent, unit, model, task, label, channel, operation, session. A member or agent key ' +
      'sees only its person and its unit. `Accept: text/csv` (or `format=csv`) answers one page as CSV, with ' +
      'the next cursor in the `x-next-cursor` header.',
  })
  @ApiJsonQuery(eventsQuerySchema)
  @Responds(200, EventPageSchema, {
    alternatives: { 'text/csv': CsvSchema },
    headers: {
      [NEXT_CURSOR_HEADER]: {
        description: 'On a CSV page that is not the last: the next page’s cursor, to pass back as `cursor` (the JSON page has it as `next_cursor`)',
        schema: { type: 'string' },
      },
    },
  })
  async events(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(eventsQuerySchema)) query: EventQueryParams & Format & { limit?: string },
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EventPage | string> {
    const page = await this.readings.events(principal, account, query, parseLimit(query.limit, 100, 1000));
    if (!csvWanted(query, accept)) return page;
    if (page.next_cursor !== null) void reply.header(NEXT_CURSOR_HEADER, page.next_cursor);
    return sendCsv(reply, `events-${account}.csv`, eventsCsv(page.data));
  }
}
