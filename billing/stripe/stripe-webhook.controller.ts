// POST /v1/stripe/webhook: Stripe's events, signed. Public (no API key: the signature is the
// credential), read as the raw bytes the signature covers. Thin: the service verifies and applies.
import { Controller, Headers, Post, Req, type RawBodyRequest } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Public } from '../../src/auth/access.decorators.js';
import { Fails, Responds } from '../../src/http/openapi.js';
import { StripeWebhooks, type WebhookAnswer } from './stripe-webhooks.service.js';
import { stripeWebhookResponseSchema } from './stripe.schemas.js';
import { HANDLED_EVENT_TYPES } from './stripe-mapping.js';

@ApiTags('stripe')
@Controller('v1/stripe')
export class StripeWebhookController {
  constructor(private readonly webhooks: StripeWebhooks) {}

  @Post('webhook')
  @Public()
  @ApiOperation({
    summary: 'Stripe’s events, verified and applied once',
    description:
      'The body is a Stripe event (https://docs.stripe.com/api/events/object), as Stripe sends it. ' +
      'Point a Stripe webhook endpoint here with the events ' + HANDLED_EVENT_TYPES.join(', ') + '. ' +
      'The `stripe-signature` header is verified on the raw body with STRIPE_WEBHOOK_SECRET (300 s tolerance) before anything else; ' +
      'each event is applied once, from the invoice as Stripe has it now. Other event types are answered 200 and ignored. ' +
      'Errors: 400 `stripe_signature_missing`, `stripe_signature_invalid`, `stripe_signature_expired` (nothing applied); ' +
      '404 `stripe_disabled` (no STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET here); ' +
      '503 `stripe_unavailable`, `stripe_handler_missing` (Stripe delivers the event again later).',
  })
  @ApiHeader({ name: 'stripe-signature', required: true, description: '`t=<unix seconds>,v1=<hex HMAC-SHA256>`, set by Stripe' })
  @Responds(200, stripeWebhookResponseSchema)
  @Fails(400, 404, 503)
  receive(@Req() request: RawBodyRequest<FastifyRequest>, @Headers('stripe-signature') signature?: string): Promise<WebhookAnswer> {
    return this.webhooks.receive(request.rawBody, signature);
  }
}
