// Writing, for the roles the service allows: the catalog, price books, plans, subscriptions, keys,
// authorizations and tasks. Each prints what changed in a line (or the service's JSON with --json).
import { Option, type Command } from 'commander';
import type { components } from '../../client/client.js';
import type { Context, DataOptions } from '../context.js';
import { readDocument } from '../document.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Column } from '../output.js';
import { count } from '../output.js';
import { dataOptions, decimalString, defined, jsonOption, nonNegativeInteger, positiveInteger, sendsFields } from './options.js';

type Schemas = components['schemas'];

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerWrite(program: Command, ctx: Context, setExit: (code: number) => void): void {
  const show = (o: { json?: boolean }, json: unknown, line: string) => ctx.out(o.json ? JSON.stringify(json, null, 2) : line);

  // ---- models -------------------------------------------------------------------------------------
  const models = program.command('models').description('the model catalog (list: any key; set: sales, admin)');
  jsonOption(
    models
      .command('set <model>')
      .description('add a model to the catalog or change its tier, provider and aliases')
      .addOption(new Option('--tier <tier>', 'price tier').choices(['base', 'specialized', 'premier']).makeOptionMandatory())
      .requiredOption('--provider <name>', 'who serves it, e.g. openai')
      .option('--alias <name>', 'another name it is reported under (repeatable)', collect),
  ).action(async (model: string, o: { tier: string; provider: string; alias?: string[]; json?: boolean }) => {
    const body: Schemas['PutModel'] = { tier: o.tier, provider: o.provider, ...defined({ aliases: o.alias }) };
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
  const plansSet = jsonOption(
    plans
      .command('set <plan> [file]')
      .description('a new version of a plan, from a JSON or YAML file and/or the options (options win)')
      .option('--name <name>', 'display name')
      .option('--currency <code>', 'ISO 4217, e.g. EUR')
      .option('--base-fee <amount>', 'monthly base fee', decimalString)
      .option('--allowance <amount>', 'usage included each month', decimalString)
      .addOption(new Option('--overage <policy>', 'past the allowance').choices(['bill', 'block'])),
  );
  sendsFields(plansSet, { base_fee: '--base-fee', included_allowance: '--allowance', overage_policy: '--overage' });
  plansSet.action(
    async (
      plan: string,
      file: string | undefined,
      o: { name?: string; currency?: string; baseFee?: string; allowance?: string; overage?: 'bill' | 'block'; json?: boolean },
    ) => {
      const fromFile = file === undefined ? {} : await readDocument(file, ctx.io.stdin);
      const body = {
        ...fromFile,
        ...defined({ name: o.name, currency: o.currency, base_fee: o.baseFee, included_allowance: o.allowance, overage_policy: o.overage }),
      } as Schemas['PutPlan'];
      const version = await ctx.call(ctx.api.PUT('/v1/plans/{plan}', { params: { path: { plan } }, body }));
      show(o, version, `plan ${version.plan_id} version ${version.version}: base fee ${version.base_fee} ${version.currency}, allowance ${version.included_allowance}, overage ${version.overage_policy}`);
    },
  );
  jsonOption(
    sendsFields(
      plans
        .command('rollback <plan>')
        .description('make an earlier version current again (as a new version with its terms)')
        .requiredOption('--to <version>', 'the version to return to', positiveInteger),
      { version: '--to' },
    ),
  ).action(async (plan: string, o: { to: number; json?: boolean }) => {
    const version = await ctx.call(ctx.api.POST('/v1/plans/{plan}/rollback', { params: { path: { plan } }, body: { version: o.to } }));
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
  jsonOption(
    sendsFields(
      program
        .command('subscribe <account>')
        .description('subscribe an account to a plan (sales, admin)')
        .requiredOption('--plan <plan>', 'the plan')
        .option('--plan-version <n>', 'a version of it (default: the latest, following new versions)', positiveInteger)
        .option('--start <date>', 'first day, YYYY-MM-DD (default: today)')
        .option('--anchor-day <day>', 'day of the month a billing period starts', positiveInteger)
        .option('--overrides <file>', 'per-account overrides, a JSON or YAML file'),
      { plan_id: '--plan', start_date: '--start', billing_anchor_day: '--anchor-day' },
    ),
  ).action(
    async (account: string, o: { plan: string; planVersion?: number; start?: string; anchorDay?: number; overrides?: string; json?: boolean }) => {
      const overrides = o.overrides === undefined ? undefined : await readDocument(o.overrides, ctx.io.stdin);
      const body = {
        plan_id: o.plan,
        ...defined({ plan_version: o.planVersion, start_date: o.start, billing_anchor_day: o.anchorDay, overrides }),
      } as Schemas['PutSubscription'];
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

  // ---- keys ---------------------------------------------------------------------------------------
  const keys = program.command('keys').description('API keys (admin; a member for their own agents)');
  jsonOption(
    sendsFields(
      keys
        .command('create')
        .description('issue a key; its secret is printed once')
        .addOption(new Option('--role <role>', 'what it may do').choices(['admin', 'sales', 'finance', 'member', 'agent']).makeOptionMandatory())
        .requiredOption('--name <name>', 'what it is for, e.g. "ci runner"')
        .option('--account <id>', 'its account (finance, member, agent)')
        .option('--person <id>', 'its person (member)')
        .option('--agent <id>', 'its agent (agent)'),
      { person_id: '--person', agent_id: '--agent' },
    ),
  ).action(async (o: { role: Schemas['CreateApiKey']['role']; name: string; account?: string; person?: string; agent?: string; json?: boolean }) => {
    const body: Schemas['CreateApiKey'] = { role: o.role, name: o.name, ...defined({ account: o.account, person_id: o.person, agent_id: o.agent }) };
    const key = await ctx.call(ctx.api.POST('/v1/api-keys', { body }));
    if (o.json) ctx.out(JSON.stringify(key, null, 2));
    else {
      ctx.out(key.secret);
      ctx.err(`key ${key.id} (${key.role}) created; the secret above is shown only once`);
    }
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
  jsonOption(
    sendsFields(
      program
        .command('authorize')
        .description(
          'ask before a costly call: reserves an amount, or tokens by kind priced at --model, or --auto (agent, member); exit 9 when denied',
        )
        .option('--amount <amount>', 'the most the call may cost', decimalString)
        .option('--tokens <n>', 'tokens the call may use, held with --amount', positiveInteger)
        .option('--model <id>', 'the model the call will use')
        .option('--input <n>', 'input tokens the call may use, priced at --model', nonNegativeInteger)
        .option('--cached-input <n>', 'cached input tokens, priced at --model', nonNegativeInteger)
        .option('--cache-write <n>', 'cache-write tokens, priced at --model', nonNegativeInteger)
        .option('--output <n>', 'output tokens, priced at --model', nonNegativeInteger)
        .option('--reasoning <n>', 'reasoning tokens, priced at --model', nonNegativeInteger)
        .option('--auto', "estimate from this agent's recent operations")
        .option('--operation <name>', 'what the call does')
        .option('--session-id <id>', 'the session it belongs to')
        .addOption(new Option('--session-context <context>', 'internal or external session').choices(['internal', 'external']))
        .option('--expires-in <seconds>', 'release the hold after this long', positiveInteger),
      {
        expires_in_seconds: '--expires-in',
        'usage.input': '--input',
        'usage.cached_input': '--cached-input',
        'usage.cache_write': '--cache-write',
        'usage.output': '--output',
        'usage.reasoning': '--reasoning',
      },
    ),
  ).action(
    async (o: AuthorizeOptions & { json?: boolean }) => {
      const body = authorizeBody(o);
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
  jsonOption(
    tasks
      .command('close <task>')
      .description('resolve a task: its attempts are labelled effective or ineffective')
      .addOption(new Option('--status <status>', 'how it ended').choices(['succeeded', 'failed', 'abandoned']).makeOptionMandatory()),
  ).action(async (task: string, o: { status: Schemas['CloseTask']['status']; json?: boolean }) => {
    const resolution = await ctx.call(ctx.api.POST('/v1/tasks/{task}/close', { params: { path: { task } }, body: { status: o.status } }));
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

/** The options of `authorize` as commander parses them. */
export interface AuthorizeOptions {
  amount?: string;
  tokens?: number;
  model?: string;
  input?: number;
  cachedInput?: number;
  cacheWrite?: number;
  output?: number;
  reasoning?: number;
  auto?: boolean;
  operation?: string;
  sessionId?: string;
  sessionContext?: Schemas['Authorize']['session_context'];
  expiresIn?: number;
}

/**
 * The estimate of `authorize` as one of the bodies the service takes: an amount (with optional tokens and
 * model), tokens by kind (with a model, which prices them), or `auto` (with a model). Anything else is a
 * usage error here, before anything is sent.
 */
export function authorizeBody(o: AuthorizeOptions): Schemas['Authorize'] {
  const shared = defined({ operation: o.operation, session_id: o.sessionId, session_context: o.sessionContext, expires_in_seconds: o.expiresIn });
  const usage = defined({ input: o.input, cached_input: o.cachedInput, cache_write: o.cacheWrite, output: o.output, reasoning: o.reasoning });
  const byKind = Object.keys(usage).length > 0;
  if (byKind && o.amount === undefined && o.tokens === undefined && !o.auto && o.model !== undefined) return { ...shared, usage, model: o.model };
  if (!byKind && o.amount !== undefined && !o.auto) return { ...shared, amount: o.amount, ...defined({ tokens: o.tokens, model: o.model }) };
  if (!byKind && o.auto && o.amount === undefined && o.tokens === undefined && o.model !== undefined) return { ...shared, estimate: 'auto', model: o.model };
  throw new CliError(
    EXIT.usage,
    'authorize: give --amount (with --tokens and --model if you like), or tokens by kind (--input, --output, ...) with --model, or --auto with --model.',
  );
}
