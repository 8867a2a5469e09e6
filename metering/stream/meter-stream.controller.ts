// GET /v1/accounts/:account/meter/stream: server-sent events, one `operation` message per accepted
// operation with the running totals of this calendar month (UTC) for the stream's scope.
import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { CLOCK, type Clock } from '../../src/clock/clock.js';
import { ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { SchemaPipe, slugParam, type JsonSchema } from '../../src/http/validation.js';
import { MeterStreamSchema } from '../readings/readings.schemas.js';
import { ReadingsService } from '../readings/readings.service.js';
import { MeterStreamService, type StreamedEvent } from './meter-stream.service.js';
import { addOperation, inPeriod, streamTotals, type StreamTotals } from './stream-totals.js';

export const KEEPALIVE_MS = 15_000;
/** A client this far behind is dropped rather than buffered without bound; it reconnects. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const streamQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { person: { type: 'string', minLength: 1, maxLength: 255 } },
} as const satisfies JsonSchema;

@ApiTags('metering')
@Controller('v1/accounts/:account/meter')
export class MeterStreamController {
  constructor(
    private readonly streams: MeterStreamService,
    private readonly readings: ReadingsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('stream')
  @Allow('admin', 'sales', 'finance', 'member', 'agent')
  @ApiOperation({
    summary: 'Live meter (server-sent events)',
    description:
      'First a `ready` event with this calendar month\'s (UTC) totals for the scope, then one `operation` event per ' +
      'accepted operation: `{ event, totals }`, `event` as in the listing, `totals` the running month totals ' +
      '(calls, tokens, cost). A `: keepalive` comment every 15 s. Member and agent keys stream what their readings ' +
      'show: their own person and the people of their unit. `person` narrows to one person (for a member or agent ' +
      'key: itself or a person of its unit; another is 403 `person_not_visible`).',
  })
  @ApiJsonQuery(streamQuerySchema)
  @Responds(200, MeterStreamSchema, { contentType: 'text/event-stream' })
  @Fails(403)
  async stream(
    @CurrentPrincipal() principal: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(streamQuerySchema)) query: { person?: string },
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const scope = await this.readings.streamScope(principal, account, query.person);

    // Subscribe before reading the totals so nothing published meanwhile is missed; what arrives
    // before the `ready` message waits in order behind it. (An operation committed in the instant
    // between the two can be counted twice in the running totals; a reconnect corrects it.)
    let opened: () => void = () => undefined;
    let chain = new Promise<void>((resolve) => (opened = resolve));
    let write: ((chunk: string) => void) | null = null;
    let period = { from: new Date(0), to: new Date(0) };
    let totals: StreamTotals | null = null;
    const onEvent = (event: StreamedEvent) => {
      chain = chain.then(async () => {
        if (write === null || totals === null) return;
        if (this.clock.now().getTime() >= period.to.getTime()) {
          // A new month: its totals (this operation included, it is committed) come from the rollups.
          const next = await this.readings.periodTotals(account, scope.person, scope.visible);
          period = { from: next.from, to: next.to };
          totals = streamTotals(next.totals);
        } else if (inPeriod(event, period)) {
          totals = addOperation(totals, event);
        }
        write?.(`event: operation\ndata: ${JSON.stringify({ event, totals })}\n\n`);
      }).catch(() => undefined);
    };
    const unsubscribe = this.streams.subscribe(account, scope, onEvent);
    let start: Awaited<ReturnType<ReadingsService['periodTotals']>>;
    try {
      await unsubscribe.ready;
      start = await this.readings.periodTotals(account, scope.person, scope.visible);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    period = { from: start.from, to: start.to };
    totals = streamTotals(start.totals);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-request-id': String(reply.request.id),
    });
    let keepalive: NodeJS.Timeout | null = null;
    let untrack: () => void = () => undefined;
    const end = () => {
      if (keepalive !== null) clearInterval(keepalive);
      keepalive = null;
      write = null;
      unsubscribe();
      untrack();
      if (!raw.writableEnded) raw.end();
    };
    write = (chunk: string) => {
      if (raw.writableEnded || raw.destroyed) return end();
      if (raw.writableLength > MAX_BUFFERED_BYTES) return end();
      raw.write(chunk);
    };
    raw.on('close', end);
    untrack = this.streams.trackStream(end);
    keepalive = setInterval(() => write?.(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    write(`retry: 5000\nevent: ready\ndata: ${JSON.stringify({ period: { from: period.from.toISOString(), to: period.to.toISOString() }, totals })}\n\n`);
    opened();
  }
}
