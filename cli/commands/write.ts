// Writing, for the roles the service allows: the catalog, price books, plans, subscriptions, keys,
// authorizations and tasks. Each prints what changed in a line (or the service's JSON with --json).
import type { Command } from 'commander';
import type { components } from '../../client/client.js';
import type { Context, DataOptions } from '../context.js';
import { readDocument } from '../document.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Column } from '../output.js';
import { count } from '../output.js';
import { bodyFlags, dataOptions, decimalString, defined, jsonOption, nonNegativeInteger, positiveInteger, showSecret } from './options.js';

type Schemas = components['schemas'];

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerWrite(program: Command, ctx: Context, setExit: (code: number) => void): void {
  const show = (o: { json?: boolean }, json: unknown, line: string) => ctx.out(o.json ? JSON.stringify(json, null, 2) : line);

  // ---- models -------------------------------------------------------------------------------------
  const models = program.command('models').description('the model catalog (list: any key; set: sales, admin)');
  const modelsSet = models.command('set <model>').description('add a model to the catalog or change its tier, provider and aliases');
  const modelBody = bodyFlags(modelsSet, [
    { flags: '--tier <tier>', field: 'tier', description: 'price tier', choices: ['base', 'specialized', 'premier'], required: true },
    { flags: '--provider <name>', field: 'provider', description: 'who serves it, e.g. openai', required: true },
    { flags: '--alias <name>', field: 'aliases', description: 'another name it is reported under (repeatable)', parse: collect },
  ]);
  jsonOption(modelsSet).action(async (model: string, o: { json?: boolean }) => {
    const body = modelBody(o) as Schemas['PutModel'];
    const saved = await ctx.call(ctx.api.PUT('/v1/models/{model}', { params: { path: { model } }, body }));
    show(o, saved, `model ${saved.id}: tier ${saved.tier}, provider ${saved.provider}${saved.aliases.length ? `, aliases ${saved.aliases.join(', ')}` : ''}`);
  });

  dataOptions(models.command('list').description('the catalog: every model with its tier, provider and aliases')).action(async (o: DataOptions) => {
    const list = await ctx.call(ctx.api.GET('/v1/models'));
    const columns: Column<Schemas['Model']>[] = [
      { header: 'model', value: (m) => m.id },
      { header: 'tier', value: (m) => m.tier },
      { header: 'provider', value: (m) => m.provider },
      { header: 'aliases', value: (m) => m.aliases.join(' ') },
    ];
    ctx.print(o, list, list.data, columns);
  });

  // ---- price books --------------------------------------------------------------------------------
  const books = program.command('price-books').description('price-book versions (list: any key; publish: sales, admin)');
  jsonOption(
    books
      .command('publish <file>')
      .description('publish a new price-book version from a JSON or YAML file (- for stdin)'),
  ).action(async (file: string, o: { json?: boolean }) => {
    const body = (await readDocument(file, ctx.io.stdin)) as Schemas['CreatePriceBook'];
    const book = await ctx.call(ctx.api.POST('/v1/price-books', { body }));
    show(o, book, `price book version ${book.version}, effective from ${book.effective_from}`);
  });
  dataOptions(books.command('list').description('every price-book version, oldest first')).action(async (o: DataOptions) => {
    // Pages of 1000 after the last version read, until a short page: every version, however many.
    const data: Schemas['PriceBook'][] = [];
    for (;;) {
      const page = await ctx.call(ctx.api.GET('/v1/price-books', { params: { query: { after: data.at(-1)?.version ?? 0, limit: 1000 } } }));
      data.push(...page.data);
      if (page.data.length < 1000) break;
    }
    const list = { data };
    const columns: Column<Schemas['PriceBook']>[] = [
      { header: 'version', value: (b) => b.version, right: true },
      { header: 'effective_from', value: (b) => b.effective_from },
      { header: 'currency', value: (b) => b.currency },
      { header: 'correction', value: (b) => b.correction },
      { header: 'reason', value: (b) => b.reason },
    ];
    ctx.print(o, list, list.data, columns);
  });

  // ---- plans --------------------------------------------------------------------------------------
  const plans = program.command('plans').description('plans and their versions (sales, admin)');
  const plansSet = plans.command('set <plan> [file]').description('a new version of a plan, from a JSON or YAML file and/or the options (options win)');
  const planBody = bodyFlags(plansSet, [
    { flags: '--name <name>', field: 'name', description: 'display name' },
    { flags: '--currency <code>', field: 'currency', description: 'ISO 4217, e.g. EUR' },
    { flags: '--base-fee <amount>', field: 'base_fee', description: 'monthly base fee', parse: decimalString },
    { flags: '--allowance <amount>', field: 'included_allowance', description: 'usage included each month', parse: decimalString },
    { flags: '--overage <policy>', field: 'overage_policy', description: 'past the allowance', choices: ['bill', 'block'] },
  ]);
  jsonOption(plansSet).action(
    async (plan: string, file: string | undefined, o: { json?: boolean }) => {
      const fromFile = file === undefined ? {} : await readDocument(file, ctx.io.stdin);
      const body = { ...fromFile, ...planBody(o) } as Schemas['PutPlan'];
      const version = await ctx.call(ctx.api.PUT('/v1/plans/{plan}', { params: { path: { plan } }, body }));
      show(o, version, `plan ${version.plan_id} version ${version.version}: base fee ${version.base_fee} ${version.currency}, allowance ${version.included_allowance}, overage ${version.overage_policy}`);
    },
  );
  const rollback = plans.command('rollback <plan>').description('make an earlier version current again (as a new version with its terms)');
  const rollbackBody = bodyFlags(rollback, [{ flags: '--to <version>', field: 'version', description: 'the version to return to', parse: positiveInteger, required: true }]);
  jsonOption(rollback).action(async (plan: string, o: { to: number; json?: boolean }) => {
    const body = rollbackBody(o) as Schemas['RollbackPlan'];
    const version = await ctx.call(ctx.api.POST('/v1/plans/{plan}/rollback', { params: { path: { plan } }, body }));
    show(o, version, `plan ${version.plan_id} version ${version.version}: the terms of version ${version.rolled_back_from ?? o.to}`);
  });
  dataOptions(plans.command('versions <plan>').description("a plan's versions, oldest first")).action(async (plan: string, o: DataOptions) => {
    const list = await ctx.call(ctx.api.GET('/v1/plans/{plan}/versions', { params: { path: { plan } } }));
    const columns: Column<Schemas['PlanVersion']>[] = [
      { header: 'version', value: (v) => v.version, right: true },
      { header: 'name', value: (v) => v.name },
      { header: 'currency', value: (v) => v.currency },
      { header: 'base_fee', value: (v) => v.base_fee, right: true },
      { header: 'included_allowance', value: (v) => v.included_allowance, right: true },
      { header: 'overage_policy', value: (v) => v.overage_policy },
      { header: 'rolled_back_from', value: (v) => v.rolled_back_from, right: true },
      { header: 'created_at', value: (v) => v.created_at },
    ];
    ctx.print(o, list, list.data, columns);
  });

  // ---- subscriptions ------------------------------------------------------------------------------
  const subscribe = program.command('subscribe <account>').description('subscribe an account to a plan (sales, admin)');
  const subscriptionBody = bodyFlags(subscribe, [
    { flags: '--plan <plan>', field: 'plan_id', description: 'the plan', required: true },
    { flags: '--plan-version <n>', field: 'plan_version', description: 'a version of it (default: the latest, following new versions)', parse: positiveInteger },
    { flags: '--start <date>', field: 'start_date', description: 'first day, YYYY-MM-DD (default: today)' },
    { flags: '--anchor-day <day>', field: 'billing_anchor_day', description: 'day of the month a billing period starts', parse: positiveInteger },
  ]);
  jsonOption(subscribe.option('--overrides <file>', 'per-account overrides, a JSON or YAML file')).action(
    async (account: string, o: { overrides?: string; json?: boolean }) => {
      const overrides = o.overrides === undefined ? undefined : await readDocument(o.overrides, ctx.io.stdin);
      const body = { ...subscriptionBody(o), ...defined({ overrides }) } as Schemas['PutSubscription'];
      const sub = await ctx.call(ctx.api.PUT('/v1/accounts/{account}/subscription', { params: { path: { account } }, body }));
      const terms = sub.effective_terms;
      show(
        o,
        sub,
        `account ${sub.account_id} subscribed to ${sub.plan_id} version ${sub.plan.version}${sub.follows_latest ? ' (following the latest)' : ''} ` +
          `from ${sub.start_date}: base fee ${terms.base_fee} ${terms.currency}, allowance ${terms.included_allowance}`,
      );
    },
  );

  jsonOption(program.command('unsubscribe <account>').description('cancel a subscription at the end of its billing period (sales, admin); subscribe again to undo')).action(
    async (account: string, o: { json?: boolean }) => {
      const sub = await ctx.call(ctx.api.DELETE('/v1/accounts/{account}/subscription', { params: { path: { account } } }));
      show(o, sub, `account ${sub.account_id}: its subscription to ${sub.plan_id} ends ${sub.ends_at ?? 'never'} (billed to the end of that period, no later one)`);
    },
  );

  // ---- keys ---------------------------------------------------------------------------------------
  const keys = program.command('keys').description('API keys (admin; a member for their own agents)');
  const keysCreate = keys.command('create').description('issue a key; its secret is printed once');
  const keyBody = bodyFlags(keysCreate, [
    { flags: '--role <role>', field: 'role', description: 'what it may do', choices: ['admin', 'sales', 'finance', 'member', 'agent'], required: true },
    { flags: '--name <name>', field: 'name', description: 'what it is for, e.g. "ci runner"', required: true },
    { flags: '--account <id>', field: 'account', description: 'its account (finance, member, agent)' },
    { flags: '--person <id>', field: 'person_id', description: 'its person (member)' },
    { flags: '--agent <id>', field: 'agent_id', description: 'its agent (agent)' },
  ]);
  jsonOption(keysCreate).action(async (o: { json?: boolean }) => {
    const key = await ctx.call(ctx.api.POST('/v1/api-keys', { body: keyBody(o) as Schemas['CreateApiKey'] }));
    showSecret(ctx, o, key, `key ${key.id} (${key.role}) created; the secret above is shown only once`);
  });
  dataOptions(
    keys
      .command('list')
      .description('every key (never a secret), oldest first, or those bound to one account (admin); your agents\' keys (member)')
      .option('--account <id>', 'only the keys bound to this account'),
  ).action(async (o: DataOptions & { account?: string }) => {
    const list = await ctx.call(ctx.api.GET('/v1/api-keys', { params: { query: defined({ account: o.account }) } }));
    const columns: Column<Schemas['ApiKey']>[] = [
      { header: 'id', value: (k) => k.id },
      { header: 'role', value: (k) => k.role },
      { header: 'account', value: (k) => k.account },
      { header: 'person', value: (k) => k.person_id },
      { header: 'agent', value: (k) => k.agent_id },
      { header: 'name', value: (k) => k.name },
      { header: 'created_at', value: (k) => k.created_at },
      { header: 'revoked_at', value: (k) => k.revoked_at },
    ];
    ctx.print(o, list, list.data, columns);
  });
  jsonOption(keys.command('revoke <id>').description('revoke a key at once')).action(async (id: string, o: { json?: boolean }) => {
    const revoked = await ctx.call(ctx.api.DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
    show(o, revoked ?? { id, revoked: true }, `key ${id} revoked`);
  });

  // ---- authorizations -----------------------------------------------------------------------------
  const authorize = program
    .command('authorize')
    .description('ask before a costly call: reserves an amount, or tokens by kind priced at --model, or --auto (agent, member); exit 9 when denied');
  const authorizeFields = bodyFlags(authorize, [
    { flags: '--amount <amount>', field: 'amount', description: 'the most the call may cost', parse: decimalString },
    { flags: '--tokens <n>', field: 'tokens', description: 'tokens the call may use, held with --amount', parse: positiveInteger },
    { flags: '--model <id>', field: 'model', description: 'the model the call will use' },
    { flags: '--input <n>', field: 'usage.input', description: 'input tokens the call may use, priced at --model', parse: nonNegativeInteger },
    { flags: '--cached-input <n>', field: 'usage.cached_input', description: 'cached input tokens, priced at --model', parse: nonNegativeInteger },
    { flags: '--cache-write <n>', field: 'usage.cache_write', description: 'cache-write tokens, priced at --model', parse: nonNegativeInteger },
    { flags: '--output <n>', field: 'usage.output', description: 'output tokens, priced at --model', parse: nonNegativeInteger },
    { flags: '--reasoning <n>', field: 'usage.reasoning', description: 'reasoning tokens, priced at --model', parse: nonNegativeInteger },
    { flags: '--auto', field: 'estimate', description: "estimate from this agent's recent operations" },
    { flags: '--operation <name>', field: 'operation', description: 'what the call does' },
    { flags: '--session-id <id>', field: 'session_id', description: 'the session it belongs to' },
    { flags: '--session-context <context>', field: 'session_context', description: 'internal or external session', choices: ['internal', 'external'] },
    { flags: '--expires-in <seconds>', field: 'expires_in_seconds', description: 'release the hold after this long', parse: positiveInteger },
  ]);
  jsonOption(authorize).action(
    async (o: { json?: boolean }) => {
      const body = authorizeBody(authorizeFields(o));
      const answer = await ctx.call(ctx.api.POST('/v1/authorizations', { body }));
      if (o.json) ctx.out(JSON.stringify(answer, null, 2));
      if (answer.allowed) {
        if (!o.json) ctx.out(answer.reservation_id);
        if (!o.json) ctx.err(`allowed: ${answer.estimate.amount} held until ${answer.expires_at}`);
      } else {
        if (!o.json) ctx.err(deniedLine(answer.denied_by, answer.estimate));
        setExit(EXIT.denied);
      }
    },
  );
  jsonOption(program.command('release <reservation>').description('release a reservation that authorize made')).action(
    async (reservation: string, o: { json?: boolean }) => {
      const released = await ctx.call(ctx.api.DELETE('/v1/authorizations/{id}', { params: { path: { id: reservation } } }));
      show(o, released, `reservation ${released.reservation_id} ${released.status}`);
    },
  );

  // ---- tasks --------------------------------------------------------------------------------------
  const tasks = program.command('tasks').description("an agent's tasks");
  const close = tasks.command('close <task>').description('resolve a task: its attempts are labelled effective or ineffective');
  const closeBody = bodyFlags(close, [{ flags: '--status <status>', field: 'status', description: 'how it ended', choices: ['succeeded', 'failed', 'abandoned'], required: true }]);
  jsonOption(close).action(async (task: string, o: { json?: boolean }) => {
    const body = closeBody(o) as Schemas['CloseTask'];
    const resolution = await ctx.call(ctx.api.POST('/v1/tasks/{task}/close', { params: { path: { task } }, body }));
    show(o, resolution, `task ${resolution.task_id} ${resolution.status}: ${count(resolution.relabelled_events)} events relabelled`);
  });

}

/** A denial as one line: the level that refused, on which measure, by how much, and the estimate. */
export function deniedLine(
  by: { level: string; measure: 'amount' | 'tokens'; short_by: string },
  estimate: { amount: string; tokens: number },
): string {
  const asked = by.measure === 'tokens' ? `${count(estimate.tokens)} tokens` : estimate.amount;
  const short = by.measure === 'tokens' ? `${count(Number(by.short_by))} tokens` : by.short_by;
  return `denied by ${by.level}: the estimate of ${asked} is ${short} more than is left there`;
}

/**
 * The estimate of `authorize` as one of the bodies the service takes: an amount (with optional tokens and
 * model), tokens by kind (with a model, which prices them), or `auto` (with a model). `fields` is what its
 * flags filled (`estimate: true` for --auto). Anything else is a usage error here, before anything is sent.
 */
export function authorizeBody(fields: Record<string, unknown>): Schemas['Authorize'] {
  const { amount, tokens, model, usage, estimate, ...shared } = fields;
  const byKind = usage !== undefined;
  const auto = estimate !== undefined;
  if (byKind && amount === undefined && tokens === undefined && !auto && model !== undefined) return { ...shared, usage, model } as Schemas['Authorize'];
  if (!byKind && amount !== undefined && !auto) return { ...shared, amount, ...defined({ tokens, model }) } as Schemas['Authorize'];
  if (!byKind && auto && amount === undefined && tokens === undefined && model !== undefined) return { ...shared, estimate: 'auto', model } as Schemas['Authorize'];
  throw new CliError(
    EXIT.usage,
    'authorize: give --amount (with --tokens and --model if you like), or tokens by kind (--input, --output, ...) with --model, or --auto with --model.',
  );
}
