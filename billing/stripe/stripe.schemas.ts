// The Stripe webhook's answer, as a JSON schema for the OpenAPI document (Stripe itself reads only the status).
import { named } from '../../src/http/openapi.js';
import type { JsonSchema } from '../../src/http/validation.js';

export const stripeWebhookResponseSchema = named('StripeWebhookAnswer', {
  type: 'object',
  additionalProperties: false,
  required: ['received', 'event_id', 'outcome'],
  properties: {
    received: { type: 'boolean', enum: [true] },
    event_id: { type: 'string', example: 'evt_1Q2w3E4r5T6y7U8i' },
    outcome: {
      type: 'string',
      enum: ['paid', 'voided', 'payment_failed', 'uncollectible', 'none', 'duplicate', 'ignored'],
      description:
        'What the event did, from the invoice’s state refetched from Stripe: `paid`, `voided`, `payment_failed`, `uncollectible`; ' +
        '`none` (recorded, nothing to do), `duplicate` (applied before), `ignored` (a type we do not act on, or not one of our objects)',
    },
  },
} as const satisfies JsonSchema);
