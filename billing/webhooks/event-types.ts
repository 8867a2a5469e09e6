// The events an endpoint can subscribe to. `task.classified` is opt-in: it fires for every task that
// resolves, so an endpoint created without a list (or asking for the defaults) never gets it.
export const WEBHOOK_EVENT_TYPES = [
  'budget.threshold_crossed',
  'budget.forecast_exceeded',
  'allowance.exhausted',
  'invoice.finalized',
  'invoice.paid',
  'task.classified',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const OPT_IN: readonly WebhookEventType[] = ['task.classified'];

/** What an endpoint created without `event_types` subscribes to. */
export const DEFAULT_EVENT_TYPES: readonly WebhookEventType[] = WEBHOOK_EVENT_TYPES.filter((t) => !OPT_IN.includes(t));

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}
