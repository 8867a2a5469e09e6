// HTTP for outgoing webhooks: endpoints of an account (finance of the account, or an admin naming it) and
// their deliveries. Thin: check the input, call the service, return what it returns.
import { Body, Controller, Delete, Get, Param, Patch, Post, Query, type PipeTransform } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe, SlugPipe } from '../../src/http/validation.js';
import { WEBHOOK_EVENT_TYPES } from './event-types.js';
import { WebhookEndpointsService, type DeliveryView, type EndpointView } from './webhook-endpoints.service.js';
import type { DeliveryStatus } from './webhooks.repository.js';
import {
  createEndpointSchema,
  deliveryListResponseSchema,
  deliveryResponseSchema,
  endpointListResponseSchema,
  endpointResponseSchema,
  endpointWithSecretResponseSchema,
  listDeliveriesQuerySchema,
  listEndpointsQuerySchema,
  rotateSecretSchema,
  updateEndpointSchema,
  type CreateEndpointBody,
  type RotateSecretBody,
  type UpdateEndpointBody,
} from './webhooks.schemas.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

const STATUSES: readonly DeliveryStatus[] = ['pending', 'succeeded', 'failed', 'canceled'];

class IdPipe implements PipeTransform<string, string> {
  constructor(private readonly name: string) {}
  transform(value: string): string {
    if (typeof value !== 'string' || !/^[a-z]{2,4}_[0-9a-f]{1,64}$/.test(value)) {
      throw new RequestError('invalid_id', `Path parameter "${this.name}" is not a webhook id.`, { field: this.name });
    }
    return value;
  }
}

@ApiTags('webhooks')
@Controller('v1/webhook-endpoints')
export class WebhooksController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post()
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({
    summary: 'Register a webhook endpoint; the answer holds its signing secret, once',
    description:
      `Event types: ${WEBHOOK_EVENT_TYPES.join(', ')} (task.classified only when asked for). The URL must be http(s) and ` +
      'reach a public address (or one in TOKENMETER_WEBHOOK_ALLOW_PRIVATE). Errors: 400 `webhook_url_invalid`, ' +
      '`webhook_url_not_allowed`, `webhook_url_unresolvable`, `webhook_event_type_unknown`; 404 `account_not_found`; ' +
      '409 `webhook_endpoint_limit` (16 per account).',
  })
  @ApiJsonBody(createEndpointSchema)
  @Responds(201, endpointWithSecretResponseSchema)
  @Fails(400, 404, 409)
  create(@CurrentPrincipal() p: Principal, @Body(new SchemaPipe(createEndpointSchema)) body: CreateEndpointBody): Promise<EndpointView & { secret: string }> {
    // `?account=` (where the listing takes it) is refused before this, pointed to the body (src/http/unread-query.ts).
    return this.endpoints.create(p, body);
  }

  @Get()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: "The account's endpoints (an admin may name `account`, or see all), by id, keyset-paged with `after`" })
  @ApiJsonQuery(listEndpointsQuerySchema)
  @Responds(200, endpointListResponseSchema)
  @Fails(404)
  list(
    @CurrentPrincipal() p: Principal,
    @Query(new SchemaPipe(parameterNames(listEndpointsQuerySchema))) { account, after, limit }: { account?: string; after?: string; limit?: string },
  ): Promise<{ data: EndpointView[]; next_after: string | null }> {
    if (account !== undefined) new SlugPipe('account', 'Query parameter').transform(account);
    if (after !== undefined) new IdPipe('after').transform(after);
    return this.endpoints.list(p, account, after ?? null, parseLimit(limit, 100, 100));
  }

  @Get(':id')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'One endpoint' })
  @Responds(200, endpointResponseSchema)
  @Fails(404)
  get(@CurrentPrincipal() p: Principal, @Param('id', new IdPipe('id')) id: string): Promise<EndpointView> {
    return this.endpoints.get(p, id);
  }

  @Patch(':id')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Change an endpoint: url, event_types, description; `enabled: false` disables it (pending deliveries are canceled), `true` enables it again' })
  @ApiJsonBody(updateEndpointSchema)
  @Responds(200, endpointResponseSchema)
  @Fails(400, 404)
  update(
    @CurrentPrincipal() p: Principal,
    @Param('id', new IdPipe('id')) id: string,
    @Body(new SchemaPipe(updateEndpointSchema)) body: UpdateEndpointBody,
  ): Promise<EndpointView> {
    return this.endpoints.update(p, id, body);
  }

  @Delete(':id')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'Delete an endpoint: nothing more is sent to it, pending deliveries are canceled' })
  @Responds(200, endpointResponseSchema)
  @Fails(404)
  remove(@CurrentPrincipal() p: Principal, @Param('id', new IdPipe('id')) id: string): Promise<EndpointView> {
    return this.endpoints.remove(p, id);
  }

  @Post(':id/rotate-secret')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'A new signing secret (in the answer, once); the old one keeps signing beside it for `expire_previous_in_seconds` (default a day)' })
  @ApiJsonBody(rotateSecretSchema)
  @Responds(200, endpointWithSecretResponseSchema)
  @Fails(404)
  rotateSecret(
    @CurrentPrincipal() p: Principal,
    @Param('id', new IdPipe('id')) id: string,
    @Body(new SchemaPipe(rotateSecretSchema)) body: RotateSecretBody,
  ): Promise<EndpointView & { secret: string }> {
    return this.endpoints.rotateSecret(p, id, body);
  }

  @Get(':id/deliveries')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: "The endpoint's deliveries, newest first, each with its attempts; `cursor` pages on" })
  @ApiJsonQuery(listDeliveriesQuerySchema)
  @Responds(200, deliveryListResponseSchema)
  @Fails(404)
  listDeliveries(
    @CurrentPrincipal() p: Principal,
    @Param('id', new IdPipe('id')) id: string,
    @Query(new SchemaPipe(parameterNames(listDeliveriesQuerySchema))) { status, cursor, limit }: { status?: string; cursor?: string; limit?: string },
  ): Promise<{ data: DeliveryView[]; next_cursor: string | null }> {
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new RequestError('invalid_value', `Query parameter "status" must be one of ${STATUSES.join(', ')}.`, { field: 'status' });
    }
    return this.endpoints.listDeliveries(p, id, {
      status: (status as DeliveryStatus | undefined) ?? null,
      cursor: cursor ?? null,
      limit: parseLimit(limit, 50, 200),
    });
  }

  @Get(':id/deliveries/:delivery')
  @Allow('admin', 'finance')
  @ApiOperation({ summary: 'One delivery with its attempts and the body it sends' })
  @Responds(200, deliveryResponseSchema)
  @Fails(404)
  getDelivery(
    @CurrentPrincipal() p: Principal,
    @Param('id', new IdPipe('id')) id: string,
    @Param('delivery', new IdPipe('delivery')) delivery: string,
  ): Promise<DeliveryView> {
    return this.endpoints.getDelivery(p, id, delivery);
  }

  @Post(':id/deliveries/:delivery/replay')
  @Idempotent()
  @Allow('admin', 'finance')
  @ApiOperation({ summary: "Send a delivery's event again, now, as a new delivery (same event id, for the receiver's dedup)" })
  @Responds(202, deliveryResponseSchema)
  @Fails(404, 409)
  replay(
    @CurrentPrincipal() p: Principal,
    @Param('id', new IdPipe('id')) id: string,
    @Param('delivery', new IdPipe('delivery')) delivery: string,
  ): Promise<DeliveryView> {
    return this.endpoints.replay(p, id, delivery);
  }
}
