// Outgoing webhook endpoints (finance of the account, or an admin naming it): create one (its signing
// secret is printed once), list them, delete one.
import { InvalidArgumentError, type Command } from 'commander';
import type { components } from '../../client/client.js';
import type { Context, DataOptions } from '../context.js';
import type { Column } from '../output.js';
import { bodyFlags, dataOptions, jsonOption, showSecret } from './options.js';

type Schemas = components['schemas'];
type EventType = Schemas['WebhookEndpoint']['event_types'][number];

/** The event types an endpoint may ask for, as the client's types have them (the build fails when one is missing here). */
export const EVENT_TYPES = ['budget.threshold_crossed', 'budget.forecast_exceeded', 'allowance.exhausted', 'invoice.finalized', 'invoice.paid', 'task.classified'] as const satisfies readonly EventType[];
const everyEventTypeListed: [Exclude<EventType, (typeof EVENT_TYPES)[number]>] extends [never] ? true : false = true;
void everyEventTypeListed;

/** `--event T`, repeatable: each a known event type. */
function eventType(value: string, previous: EventType[] = []): EventType[] {
  if (!(EVENT_TYPES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${EVENT_TYPES.join(', ')}`);
  return [...previous, value as EventType];
}

export function registerWebhooks(program: Command, ctx: Context): void {
  const webhooks = program.command('webhooks').description("the account's webhook endpoints (finance; an admin names --account)");

  const create = webhooks.command('create').description('register an endpoint; its signing secret is printed once');
  const createBody = bodyFlags(create, [
    { flags: '--url <url>', field: 'url', description: 'where deliveries are POSTed, http(s) and public', required: true },
    { flags: '--event <type>', field: 'event_types', description: `an event type to send (repeatable; default: all but task.classified): ${EVENT_TYPES.join(', ')}`, parse: eventType },
    { flags: '--description <text>', field: 'description', description: 'what it is for' },
    { flags: '-a, --account <id>', field: 'account', description: 'its account (default: TOKENMETER_ACCOUNT or the one stored by login; a finance key: its own)' },
  ]);
  jsonOption(create).action(async (o: { account?: string; json?: boolean }) => {
    const account = o.account ?? ctx.credentials.account;
    const body = { ...createBody(o), ...(account === undefined ? {} : { account }) } as Schemas['CreateWebhookEndpoint'];
    const endpoint = await ctx.call(ctx.api.POST('/v1/webhook-endpoints', { body }));
    showSecret(ctx, o, endpoint, `webhook endpoint ${endpoint.id} of ${endpoint.account} created for ${endpoint.event_types.join(', ')}; the signing secret above is shown only once`);
  });

  dataOptions(
    webhooks
      .command('list')
      .description("the account's endpoints, by id (an admin without an account: every account's)")
      .option('-a, --account <id>', 'the account (default: TOKENMETER_ACCOUNT or the one stored by login)'),
  ).action(async (o: DataOptions & { account?: string }) => {
    const account = o.account ?? ctx.credentials.account;
    // Pages of 100 after the last id read, until the service says there is no next one.
    const data: Schemas['WebhookEndpoint'][] = [];
    let after: string | undefined;
    do {
      const query = { ...(account === undefined ? {} : { account }), ...(after === undefined ? {} : { after }), limit: 100 };
      const page = await ctx.call(ctx.api.GET('/v1/webhook-endpoints', { params: { query } }));
      data.push(...page.data);
      after = page.next_after ?? undefined;
    } while (after !== undefined);
    const columns: Column<Schemas['WebhookEndpoint']>[] = [
      { header: 'id', value: (e) => e.id },
      { header: 'account', value: (e) => e.account },
      { header: 'url', value: (e) => e.url },
      { header: 'event_types', value: (e) => e.event_types.join(' ') },
      { header: 'enabled', value: (e) => e.enabled },
      { header: 'description', value: (e) => e.description },
      { header: 'created_at', value: (e) => e.created_at },
    ];
    ctx.print(o, { data }, data, columns);
  });

  jsonOption(webhooks.command('delete <id>').description('delete an endpoint: nothing more is sent to it, pending deliveries are canceled')).action(
    async (id: string, o: { json?: boolean }) => {
      const deleted = await ctx.call(ctx.api.DELETE('/v1/webhook-endpoints/{id}', { params: { path: { id } } }));
      ctx.out(o.json ? JSON.stringify(deleted, null, 2) : `webhook endpoint ${deleted.id} deleted`);
    },
  );
}
