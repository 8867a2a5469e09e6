// Finance's commands: the budget tree with burn and forecast, setting and moving budgets, the credit
// ledger, and invoices.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { components } from '../../client/client.js';
import { jsonBody } from '../api.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { Context, DataOptions } from '../context.js';
import { count, type Column } from '../output.js';
import { listCommand } from './org.js';
import { accountOption, bodyFlags, dataOptions, decimalString, defined, jsonOption, positiveInteger, sendsFields } from './options.js';

type Schemas = components['schemas'];
type Burn = Schemas['BudgetBurn'];

const PERIODS = ['year', 'quarter', 'month'] as const;

/** A count option's value (commander reports an InvalidArgumentError as a usage error, naming the option). */
function nonNegative(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number such as 5');
  return n;
}

/** `--thresholds 50,80,100`: whole percentages (the service checks their range). */
function thresholdList(value: string): number[] {
  const parts = value.split(',').map((t) => t.trim());
  if (parts.some((t) => !/^\d+$/.test(t))) throw new InvalidArgumentError('expected whole percentages separated by commas, such as 50,80,100');
  return parts.map(Number);
}

/** One budget as a line: headcount, limit, spent, held, left and the forecast. */
export function burnLine(b: Burn): string {
  const heads = `heads ${b.headcount.people}${b.headcount.allocated === null ? '' : `/${b.headcount.allocated}`}`;
  const money = `limit ${b.limit.amount ?? '-'}  spent ${b.spent.amount}  held ${b.held.amount}  left ${b.left.amount ?? '-'}`;
  const tokens = b.limit.tokens === null ? '' : `  tokens ${count(b.spent.tokens)}/${count(b.limit.tokens)}`;
  const forecast = `forecast ${b.forecast.amount_at_period_end}${b.forecast.limit_reached_at ? ` (limit reached ${b.forecast.limit_reached_at.slice(0, 10)})` : ''}`;
  return `${b.period.kind} ${b.period.start}  ${heads}  ${money}${tokens}  ${forecast}  ${b.enforcement}`;
}

/** A transfer as one line: what moved (only the measures that did), and what each side allocates now. */
export function transferLine(t: Schemas['BudgetTransferResult'], to: string): string {
  const m = t.moved;
  const moved = [
    /^0*(\.0*)?$/.test(m.amount) ? null : `amount ${m.amount}`,
    m.tokens === 0 ? null : `${count(m.tokens)} tokens`,
    m.headcount === 0 ? null : `headcount ${m.headcount}`,
  ].filter((part) => part !== null);
  const allocates = (b: Schemas['Budget']) =>
    [b.amount_limit === null ? null : `amount ${b.amount_limit}`, b.token_limit === null ? null : `${count(b.token_limit)} tokens`, b.headcount === null ? null : `headcount ${b.headcount}`]
      .filter((part) => part !== null)
      .join(', ');
  // The receiving side is null when it is a parent without a budget of its own.
  return (
    `moved ${moved.join(', ') || 'nothing'} from ${t.from.node} to ${to} (${t.from.period.kind} from ${t.from.period.start}); ` +
    `${t.from.node} now allocates ${allocates(t.from) || 'nothing'}${t.to === null ? '' : `, ${t.to.node} ${allocates(t.to) || 'nothing'}`}`
  );
}

/**
 * The org tree (account, units by parent, people by unit) with each node's budgets, as terminal lines.
 * A node appears when it or a node below it has a budget.
 */
export function budgetTree(account: string, burns: readonly Burn[], units: readonly { id: string; parent_id: string | null }[], people: readonly { id: string; unit_id: string }[]): string[] {
  const byNode = new Map<string, Burn[]>();
  for (const b of burns) byNode.set(b.node, [...(byNode.get(b.node) ?? []), b]);
  const children = new Map<string, string[]>();
  const add = (parent: string, child: string) => children.set(parent, [...(children.get(parent) ?? []), child]);
  for (const u of units) add(u.parent_id ? `unit:${u.parent_id}` : 'account', `unit:${u.id}`);
  for (const p of people) add(`unit:${p.unit_id}`, `person:${p.id}`);
  const shown = (node: string): boolean => byNode.has(node) || (children.get(node) ?? []).some(shown);
  const lines: string[] = [];
  const walk = (node: string, prefix: string, last: boolean, root: boolean) => {
    const label = root ? `${account} (account)` : node;
    lines.push(root ? label : `${prefix}${last ? '└─ ' : '├─ '}${label}`);
    const inner = root ? '' : `${prefix}${last ? '   ' : '│  '}`;
    const kids = (children.get(node) ?? []).filter(shown);
    for (const b of byNode.get(node) ?? []) lines.push(`${inner}${kids.length > 0 ? '│  ' : '   '}${burnLine(b)}`);
    kids.forEach((kid, i) => walk(kid, inner, i === kids.length - 1, false));
  };
  walk('account', '', true, true);
  return lines;
}

export function registerBilling(program: Command, ctx: Context): void {
  const budgets = program.command('budgets').description('people-plus-tokens budgets down the org tree (finance)');
  accountOption(budgets);
  budgets.addOption(new Option('--period <kind>', 'only budgets of this period kind').choices(PERIODS));
  budgets.option('--start <date>', 'with --period: the budgets of the period starting that day (YYYY-MM-DD; ended or to come) instead of those in force');
  sendsFields(budgets, { period_start: '--start' });
  dataOptions(budgets).action(
    async (o: DataOptions & { account?: string; period?: (typeof PERIODS)[number]; start?: string }) => {
      const account = ctx.account(o.account);
      if (o.start !== undefined && o.period === undefined) throw new CliError(EXIT.usage, '--start needs --period (year, quarter or month)');
      const query = defined({ period: o.period, period_start: o.start });
      if (o.csv) {
        // The service's own CSV, byte for byte: its columns are defined once (billing/budgets/budgets-csv.ts),
        // so the file is the same whether finance exports it here or from the API.
        const csv = await ctx.call(
          ctx.api.GET('/v1/accounts/{account}/budgets', { params: { path: { account }, query: { ...query, format: 'csv' } }, parseAs: 'text' }),
        );
        ctx.io.stdout.write(csv);
        return;
      }
      const list = jsonBody(await ctx.call(ctx.api.GET('/v1/accounts/{account}/budgets', { params: { path: { account }, query } })));
      if (o.json) {
        ctx.out(JSON.stringify(list, null, 2));
        return;
      }
      const [units, people] = await Promise.all([
        ctx.call(ctx.api.GET('/v1/accounts/{account}/units', { params: { path: { account } } })),
        ctx.call(ctx.api.GET('/v1/accounts/{account}/people', { params: { path: { account } } })),
      ]);
      ctx.out(list.data.length === 0 ? '(no budgets)' : budgetTree(account, list.data, units.data, people.data).join('\n'));
    },
  );

  const set = budgets
    .command('set <node>')
    .description('set (replace) the budget of `account`, `unit:<id>` or `person:<id>` for a period: what is not given is not kept (enforcement soft, thresholds 50,80,100)');
  const budgetBody = bodyFlags(set, [
    { flags: '--period <kind>', field: 'period', description: 'the period kind', choices: PERIODS, required: true },
    { flags: '--start <date>', field: 'period_start', description: 'first day of the period, YYYY-MM-DD (default: the current one)' },
    { flags: '--headcount <n>', field: 'headcount', description: 'people', parse: nonNegative },
    { flags: '--tokens <n>', field: 'token_limit', description: 'token limit', parse: nonNegative },
    { flags: '--amount <amount>', field: 'amount_limit', description: 'money limit', parse: decimalString },
    {
      flags: '--enforcement <kind>',
      field: 'enforcement',
      description: 'hard denies authorizations past the limit (default soft, also when replacing a hard budget)',
      choices: ['soft', 'hard'],
    },
    { flags: '--thresholds <list>', field: 'thresholds', description: 'alert thresholds in percent, e.g. 50,80,100', parse: thresholdList },
  ]);
  jsonOption(accountOption(set)).action(async (node: string, o: { account?: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const body = budgetBody(o) as Schemas['PutBudget'];
    const budget = await ctx.call(ctx.api.PUT('/v1/accounts/{account}/budgets/{node}', { params: { path: { account, node } }, body }));
    ctx.out(
      o.json
        ? JSON.stringify(budget, null, 2)
        : `budget ${budget.node} ${budget.period.kind} ${budget.period.start}: headcount ${budget.headcount ?? '-'}, tokens ${budget.token_limit ?? '-'}, amount ${budget.amount_limit ?? '-'} (${budget.enforcement})`,
    );
  });

  const transfer = budgets.command('transfer').description('move unused allocation to a sibling or back to the parent, mid-period');
  const transferBody = bodyFlags(transfer, [
    { flags: '--from <node>', field: 'from', description: 'the node giving', required: true },
    { flags: '--to <node>', field: 'to', description: 'a sibling or the parent', required: true },
    { flags: '--period <kind>', field: 'period', description: 'the period kind', choices: PERIODS, required: true },
    { flags: '--start <date>', field: 'period_start', description: 'first day of the period (default: the current one)' },
    { flags: '--headcount <n>', field: 'headcount', description: 'people', parse: nonNegative },
    { flags: '--tokens <n>', field: 'tokens', description: 'tokens', parse: nonNegative },
    { flags: '--amount <amount>', field: 'amount', description: 'money', parse: decimalString },
  ]);
  jsonOption(accountOption(transfer)).action(async (o: { account?: string; to: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const body = transferBody(o) as Schemas['BudgetTransfer'];
    const result = await ctx.call(ctx.api.POST('/v1/accounts/{account}/budgets/transfers', { params: { path: { account } }, body }));
    ctx.out(o.json ? JSON.stringify(result, null, 2) : transferLine(result, o.to));
  });

  const credits = program.command('credits').description('the credit balance, grants in burn order and the ledger (finance, sales)');
  accountOption(credits);
  dataOptions(credits).action(async (o: DataOptions & { account?: string }) => {
    const account = ctx.account(o.account);
    const c = await ctx.call(ctx.api.GET('/v1/accounts/{account}/credits', { params: { path: { account } } }));
    const columns: Column<Schemas['CreditGrant']>[] = [
      { header: 'id', value: (g) => g.id },
      { header: 'kind', value: (g) => g.kind },
      { header: 'amount', value: (g) => g.amount, right: true },
      { header: 'remaining', value: (g) => g.remaining, right: true },
      { header: 'priority', value: (g) => g.priority, right: true },
      { header: 'granted_at', value: (g) => g.granted_at },
      { header: 'expires_at', value: (g) => g.expires_at },
    ];
    // As the console says it: `available` counts this period's allowance, which the settle job has not granted yet.
    const pending = c.pending_allowance ? `, with this period's allowance of ${c.pending_allowance.amount} ${c.currency} (pending: granted within a minute)` : '';
    ctx.print(o, c, c.grants, columns, `balance ${c.balance} ${c.currency}, available ${c.available}${pending}`);
  });

  const grant = credits.command('grant').description('a promotional grant of credits (sales, admin)');
  const grantBody = bodyFlags(grant, [
    { flags: '--amount <amount>', field: 'amount', description: "the credit, in the account's currency", parse: decimalString, required: true },
    { flags: '--priority <n>', field: 'priority', description: 'burn order, 1 to 1000: lower is used first (default 10)', parse: nonNegative },
    {
      flags: '--expires-at <time>',
      field: 'expires_at',
      description: 'when what is left of it expires: the start of a UTC day, like 2027-01-01T00:00:00Z (default: never)',
      configure: (option) => option.conflicts('validityDays'),
    },
    { flags: '--validity-days <n>', field: 'validity_days', description: 'or: valid this many days from now, to the end of the UTC day they run out in', parse: positiveInteger },
    { flags: '--reason <text>', field: 'reason', description: 'why it was granted' },
  ]);
  jsonOption(accountOption(grant)).action(async (o: { account?: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const made = await ctx.call(ctx.api.POST('/v1/accounts/{account}/credits/grants', { params: { path: { account } }, body: grantBody(o) as Schemas['CreditGrantCreate'] }));
    ctx.out(o.json ? JSON.stringify(made, null, 2) : `grant ${made.id}: ${made.amount} promotional, priority ${made.priority}, ${made.expires_at === null ? 'no expiry' : `expires ${made.expires_at}`}`);
  });

  const topup = credits.command('topup').description("buy one of the plan's top-up packs (finance, admin); the same --id again is the same purchase");
  const topupBody = bodyFlags(topup, [
    { flags: '--id <id>', field: 'id', description: 'the purchase id you choose (sent again, the first purchase is answered)', required: true },
    { flags: '--pack <pack>', field: 'pack', description: "the pack, one of the plan's topup_packs", required: true },
  ]);
  jsonOption(accountOption(topup)).action(async (o: { account?: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const bought = await ctx.call(ctx.api.POST('/v1/accounts/{account}/credits/topups', { params: { path: { account } }, body: topupBody(o) as Schemas['CreditTopupCreate'] }));
    ctx.out(
      o.json
        ? JSON.stringify(bought, null, 2)
        : `top-up ${bought.id}: pack ${bought.pack} for ${bought.price} ${bought.currency}, ${bought.allowance} for ${bought.validity_days} days, ${bought.status === 'granted' ? `granted (${bought.grant?.id ?? ''})` : 'pending payment'}`,
    );
  });

  registerCaps(program, ctx);

  const invoices = program.command('invoices').description("the account's invoices, newest period first (finance)");
  accountOption(invoices);
  dataOptions(invoices).action(async (o: DataOptions & { account?: string }) => {
    const account = ctx.account(o.account);
    const list = await ctx.call(ctx.api.GET('/v1/accounts/{account}/invoices', { params: { path: { account } } }));
    const columns: Column<Schemas['InvoiceSummary']>[] = [
      { header: 'id', value: (i) => i.id },
      { header: 'number', value: (i) => i.number },
      { header: 'status', value: (i) => i.status },
      { header: 'period_start', value: (i) => i.period_start },
      { header: 'period_end', value: (i) => i.period_end },
      { header: 'total', value: (i) => i.total, right: true },
      { header: 'currency', value: (i) => i.currency },
    ];
    ctx.print(o, list, list.data, columns);
  });

  const closeInvoices = invoices
    .command('close')
    .description("close every ended billing period without an invoice (admin, sales, finance): each a draft, finalized after the plan's grace period");
  const closeBody = bodyFlags(closeInvoices, [
    { flags: '--finalize', field: 'finalize', description: 'finalize at once (also a draft still in its grace period)' },
  ]);
  jsonOption(accountOption(closeInvoices)).action(async (o: { account?: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const invoice = await ctx.call(ctx.api.POST('/v1/accounts/{account}/invoices/close', { params: { path: { account } }, body: closeBody(o) }));
    ctx.out(o.json ? JSON.stringify(invoice, null, 2) : invoiceLine(invoice));
  });

  const invoice = program.command('invoice').description('one invoice: show it; finalize (admin, sales, finance), pay or void it (admin, sales)');
  jsonOption(invoice.command('finalize <id>').description('finalize a draft now, before its grace period ends (a finalized invoice is answered as it is)')).action(
    async (id: string, o: { json?: boolean }) => {
      const done = await ctx.call(ctx.api.POST('/v1/invoices/{id}/finalize', { params: { path: { id } } }));
      ctx.out(o.json ? JSON.stringify(done, null, 2) : invoiceLine(done));
    },
  );
  jsonOption(invoice.command('pay <id>').description('mark a finalized invoice paid (a payment received outside Stripe)')).action(async (id: string, o: { json?: boolean }) => {
    const paid = await ctx.call(ctx.api.POST('/v1/invoices/{id}/pay', { params: { path: { id } } }));
    ctx.out(o.json ? JSON.stringify(paid, null, 2) : invoiceLine(paid));
  });
  const voidInvoice = invoice.command('void <id>').description('void a finalized, unpaid invoice: the credits it used are restored (and its Stripe invoice voided)');
  const voidBody = bodyFlags(voidInvoice, [{ flags: '--reason <text>', field: 'reason', description: 'why, kept with the invoice' }]);
  jsonOption(voidInvoice).action(async (id: string, o: { json?: boolean }) => {
    const voided = await ctx.call(ctx.api.POST('/v1/invoices/{id}/void', { params: { path: { id } }, body: voidBody(o) }));
    ctx.out(o.json ? JSON.stringify(voided, null, 2) : invoiceLine(voided));
  });

  dataOptions(invoice.command('show <id>').description('an invoice with its lines')).action(
    async (id: string, o: DataOptions) => {
      if (o.csv) {
        // The service's own invoice CSV, byte for byte, so the file is the one the API and the console give.
        ctx.io.stdout.write(await ctx.call(ctx.api.GET('/v1/invoices/{id}', { params: { path: { id }, query: { format: 'csv' } }, parseAs: 'text' })));
        return;
      }
      const invoice = jsonBody(await ctx.call(ctx.api.GET('/v1/invoices/{id}', { params: { path: { id } } })));
      const columns: Column<Schemas['InvoiceLine']>[] = [
        { header: 'n', value: (l) => l.n, right: true },
        { header: 'kind', value: (l) => l.kind },
        { header: 'description', value: (l) => l.description },
        { header: 'amount', value: (l) => l.amount, right: true },
      ];
      if (!o.json) ctx.out(`invoice ${invoice.number} (${invoice.status}) ${invoice.period_start} .. ${invoice.period_end}, plan ${invoice.plan_id} v${invoice.plan_version}`);
      ctx.print(o, invoice, invoice.lines, columns, `total ${invoice.total} ${invoice.currency}`);
    },
  );
}

/** An invoice as one line: its number, status, period and total. */
export function invoiceLine(i: Schemas['Invoice']): string {
  return `invoice ${i.id} ${i.number} (${i.status}) ${i.period_start} .. ${i.period_end}: total ${i.total} ${i.currency}`;
}

/** `agent:<id>`, `session:internal` or `session:external`: what a cap is on, as its route names it. */
type CapTarget = { scope: 'agent'; agent: string } | { scope: 'session'; context: 'internal' | 'external' };

export function capTarget(value: string): CapTarget {
  const agent = /^agent:(.+)$/.exec(value);
  if (agent) return { scope: 'agent', agent: agent[1]! };
  if (value === 'session:internal' || value === 'session:external') return { scope: 'session', context: value.slice('session:'.length) as 'internal' | 'external' };
  throw new InvalidArgumentError('expected agent:<id>, session:internal or session:external');
}

const capTargetName = (t: CapTarget) => (t.scope === 'agent' ? `agent:${t.agent}` : `session:${t.context}`);

/** The caps on authorizations (finance, admin): listed (members too), set and removed. */
function registerCaps(program: Command, ctx: Context): void {
  const caps = program.command('caps').description('the caps on authorizations, per agent and per session context (finance, admin; members read them)');
  listCommand(ctx, caps, (account) => ctx.api.GET('/v1/accounts/{account}/caps', { params: { path: { account } } }), [
    { header: 'cap', value: (c) => (c.scope === 'agent' ? `agent:${c.agent_id}` : `session:${c.session_context}`) },
    { header: 'period', value: (c) => c.period },
    { header: 'amount_limit', value: (c) => c.amount_limit, right: true },
    { header: 'token_limit', value: (c) => c.token_limit, show: count, right: true },
    { header: 'updated_at', value: (c) => c.updated_at },
  ]);

  listCommand(
    ctx,
    caps.command('tiers').description("the plan's per-tier token caps this billing period: spent, held and left (what a hold of a model of that tier is held against)"),
    (account) => ctx.api.GET('/v1/accounts/{account}/caps/tiers', { params: { path: { account } } }),
    [
      { header: 'tier', value: (c) => c.tier },
      { header: 'period_start', value: (c) => c.period_start },
      { header: 'period_end', value: (c) => c.period_end },
      { header: 'token_limit', value: (c) => c.token_limit, show: count, right: true },
      { header: 'spent_tokens', value: (c) => c.spent_tokens, show: count, right: true },
      { header: 'held_tokens', value: (c) => c.held_tokens, show: count, right: true },
      { header: 'left_tokens', value: (c) => c.left_tokens, show: count, right: true },
    ],
  );

  const set = caps
    .command('set')
    .description('set (replace) a cap; it applies to the next authorization')
    .argument('<cap>', '`agent:<id>` (its own, for a period) or `session:internal`/`session:external` (each session of that context)', capTarget);
  const capBody = bodyFlags(set, [
    { flags: '--amount <amount>', field: 'amount_limit', description: 'money limit', parse: decimalString },
    { flags: '--tokens <n>', field: 'token_limit', description: 'token limit', parse: nonNegative },
    { flags: '--period <kind>', field: 'period', description: 'agent caps: the period it caps (default month)', choices: PERIODS },
  ]);
  jsonOption(accountOption(set)).action(async (target: CapTarget, o: { account?: string; json?: boolean }) => {
    const account = ctx.account(o.account);
    const body = capBody(o) as Schemas['PutCap'];
    if (body.amount_limit === undefined && body.token_limit === undefined) throw new CliError(EXIT.usage, 'caps set: give --amount, --tokens or both');
    const cap = await ctx.call(
      target.scope === 'agent'
        ? ctx.api.PUT('/v1/accounts/{account}/caps/agents/{agent}', { params: { path: { account, agent: target.agent } }, body })
        : ctx.api.PUT('/v1/accounts/{account}/caps/sessions/{context}', { params: { path: { account, context: target.context } }, body }),
    );
    const per = cap.period === undefined ? 'each session' : `per ${cap.period}`;
    ctx.out(o.json ? JSON.stringify(cap, null, 2) : `cap ${capTargetName(target)} ${per}: amount ${cap.amount_limit ?? '-'}, tokens ${cap.token_limit === null ? '-' : count(cap.token_limit)}`);
  });

  jsonOption(accountOption(caps.command('delete').description('remove a cap').argument('<cap>', '`agent:<id>`, `session:internal` or `session:external`', capTarget))).action(
    async (target: CapTarget, o: { account?: string; json?: boolean }) => {
      const account = ctx.account(o.account);
      await ctx.call(
        target.scope === 'agent'
          ? ctx.api.DELETE('/v1/accounts/{account}/caps/agents/{agent}', { params: { path: { account, agent: target.agent } } })
          : ctx.api.DELETE('/v1/accounts/{account}/caps/sessions/{context}', { params: { path: { account, context: target.context } } }),
      );
      ctx.out(o.json ? JSON.stringify({ cap: capTargetName(target), deleted: true }, null, 2) : `cap ${capTargetName(target)} removed`);
    },
  );
}
