// POST /v1/events. The envelope is checked by a compiled schema; each event is checked on its own by
// the service, so a bad event is answered in its own result and never costs the others.
import { Body, Controller, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal, DeniedHint } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { ApiJsonBody, Responds } from '../../src/http/openapi.js';
import { SchemaPipe } from '../../src/http/validation.js';
import { batchSchema } from './event-input.js';
import type { EventResult } from './event-result.js';
import { EventBatchResultSchema, EventBatchSchema } from './ingest.schemas.js';
import { IngestService } from './ingest.service.js';
import { MeterPublisher } from './meter-publisher.js';

@ApiTags('metering')
@Controller('v1/events')
export class IngestController {
  constructor(
    private readonly ingest: IngestService,
    private readonly publisher: MeterPublisher,
  ) {}

  @Post()
  @Allow('agent')
  @DeniedHint('Events are reported with an agent key: its owner (a member key) or an admin issues one with POST /v1/api-keys.')
  @ApiOperation({
    summary: 'Report a batch of up to 1000 token events',
    description:
      'Each event gets its own result, in order: accepted (with tokens, cost by kind, tier, label and the reading ' +
      'after it), duplicate (same id and content: counted once, the original result), conflict (same id, other ' +
      'content: the differing fields) or rejected (code, field). The answer comes after accepted events are durable.',
  })
  @ApiJsonBody(EventBatchSchema)
  @Responds(200, EventBatchResultSchema)
  async report(
    @CurrentPrincipal() principal: Principal,
    @Body(new SchemaPipe(batchSchema, { scanNul: false })) body: { events: unknown[] },
  ): Promise<{ results: EventResult[] }> {
    const { results, accepted } = await this.ingest.ingest(principal, body.events);
    this.publisher.published(principal.accountId!, accepted);
    return { results };
  }
}
