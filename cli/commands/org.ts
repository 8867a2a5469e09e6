// The org tree, for an admin or the account's finance: accounts (admin, sales), units, people with their
// unit (and moving them to another), agents with their owner. Each write prints what it made in a line
// (or the service's JSON with --json); each list is a table, --json or --csv.
import type { Command } from 'commander';
import type { components } from '../../client/client.js';
import type { Context, DataOptions } from '../context.js';
import type { Column } from '../output.js';
import { accountOption, bodyFlags, dataOptions, defined, jsonOption, positiveInteger, type BodyFlag } from './options.js';

type Schemas = components['schemas'];

/** A write's own options: the account it acts on and --json. */
interface WriteOptions {
  account?: string;
  json?: boolean;
}

/**
 * `<parent> create <id>` for a node of the account's tree: its flags (each declared once for its option and
 * its body field), the request that sends `{ id, ...fields }`, and the line that says what was made.
 */
function createCommand<T>(
  ctx: Context,
  parent: Command,
  description: string,
  flags: readonly BodyFlag[],
  send: (account: string, body: Record<string, unknown>) => Promise<{ data?: T; error?: unknown; response: Response }>,
  line: (made: T, account: string) => string,
): void {
  const create = parent.command('create <id>').description(description);
  const bodyOf = bodyFlags(create, flags);
  jsonOption(accountOption(create)).action(async (id: string, o: WriteOptions) => {
    const account = ctx.account(o.account);
    const made = await ctx.call(send(account, { id, ...bodyOf(o) }));
    ctx.out(o.json ? JSON.stringify(made, null, 2) : line(made, account));
  });
}

/** `<parent> list` of an account's nodes: a table of `columns`, --json or --csv, read by `read`. */
export function listCommand<T, O extends object>(
  ctx: Context,
  command: Command,
  read: (account: string, o: O) => Promise<{ data?: { data: T[] }; error?: unknown; response: Response }>,
  columns: readonly Column<T>[],
): void {
  dataOptions(accountOption(command)).action(async (o: DataOptions & { account?: string } & O) => {
    const list = await ctx.call(read(ctx.account(o.account), o));
    ctx.print(o, list, list.data, columns);
  });
}

export function registerOrg(program: Command, ctx: Context): void {
  const show = (o: { json?: boolean }, json: unknown, line: string) => ctx.out(o.json ? JSON.stringify(json, null, 2) : line);

  // ---- accounts -----------------------------------------------------------------------------------
  const accounts = program.command('accounts').description('customer accounts (admin, sales)');
  const accountsCreate = accounts.command('create <id>').description('create a customer account (its id: lower case letters, digits and dashes)');
  const accountBody = bodyFlags(accountsCreate, [
    { flags: '--name <name>', field: 'name', description: 'display name', required: true },
    { flags: '--currency <code>', field: 'currency', description: 'ISO 4217, e.g. EUR', required: true },
    { flags: '--fiscal-year-start <month>', field: 'fiscal_year_start_month', description: 'month its fiscal year starts, 1 to 12 (default 1)', parse: positiveInteger },
    { flags: '--paid-enterprise', field: 'paid_enterprise', description: 'an enterprise account paid outside the plan (its base fee may be waived)' },
    { flags: '--task-timeout <seconds>', field: 'task_inactivity_timeout_seconds', description: 'a task without events this long is abandoned', parse: positiveInteger },
  ]);
  jsonOption(accountsCreate).action(async (id: string, o: WriteOptions) => {
    const body = { id, ...accountBody(o) } as Schemas['CreateAccount'];
    const made = await ctx.call(ctx.api.POST('/v1/accounts', { body }));
    show(o, made, `account ${made.id} (${made.name}) created, currency ${made.currency}`);
  });

  // ---- units --------------------------------------------------------------------------------------
  const units = program.command('units').description("the account's departments and teams (create: admin, finance)");
  createCommand(
    ctx,
    units,
    'add a department or team under the account or under another unit',
    [
      { flags: '--name <name>', field: 'name', description: 'display name', required: true },
      { flags: '--kind <kind>', field: 'kind', description: 'what it is', choices: ['department', 'team'], required: true },
      { flags: '--parent <unit>', field: 'parent_id', description: 'the unit it is part of (default: directly under the account)' },
    ],
    (account, body) => ctx.api.POST('/v1/accounts/{account}/units', { params: { path: { account } }, body: body as Schemas['CreateUnit'] }),
    (unit, account) => `${unit.kind} ${unit.id} (${unit.name}) created under ${unit.parent_id === null ? `account ${account}` : `unit ${unit.parent_id}`}`,
  );
  listCommand(ctx, units.command('list').description("the account's units"), (account) => ctx.api.GET('/v1/accounts/{account}/units', { params: { path: { account } } }), [
    { header: 'id', value: (u) => u.id },
    { header: 'kind', value: (u) => u.kind },
    { header: 'name', value: (u) => u.name },
    { header: 'parent', value: (u) => u.parent_id },
    { header: 'created_at', value: (u) => u.created_at },
  ]);

  // ---- people -------------------------------------------------------------------------------------
  const people = program.command('people').description("the account's people (create, move, deactivate: admin, finance)");
  createCommand(
    ctx,
    people,
    'add a person to a unit',
    [
      { flags: '--name <name>', field: 'name', description: 'display name', required: true },
      { flags: '--unit <unit>', field: 'unit_id', description: 'the unit they are in', required: true },
    ],
    (account, body) => ctx.api.POST('/v1/accounts/{account}/people', { params: { path: { account } }, body: body as Schemas['CreatePerson'] }),
    (person) => `person ${person.id} (${person.name}) created in unit ${person.unit_id}`,
  );
  const peopleMove = people
    .command('move <person>')
    .description('move a person to another unit; their spend from then on counts there (recorded with the time it took effect)');
  const moveBody = bodyFlags(peopleMove, [
    { flags: '--unit <unit>', field: 'unit_id', description: 'the unit they move to', required: true },
    { flags: '--effective-from <time>', field: 'effective_from', description: 'when the move took effect, RFC 3339 (default: now; after their last move)' },
  ]);
  jsonOption(accountOption(peopleMove)).action(async (person: string, o: WriteOptions) => {
    const account = ctx.account(o.account);
    const body = moveBody(o) as Schemas['UpdatePerson'];
    const moved = await ctx.call(ctx.api.PATCH('/v1/accounts/{account}/people/{person}', { params: { path: { account, person } }, body }));
    show(o, moved, `person ${moved.id} (${moved.name}) is now in unit ${moved.unit_id}`);
  });
  jsonOption(accountOption(people.command('deactivate <person>').description('deactivate a person: their keys and their agents stop working'))).action(
    async (person: string, o: WriteOptions) => {
      const account = ctx.account(o.account);
      const gone = await ctx.call(ctx.api.DELETE('/v1/accounts/{account}/people/{person}', { params: { path: { account, person } } }));
      show(o, gone, `person ${gone.id} deactivated`);
    },
  );
  listCommand(
    ctx,
    people.command('list').description("the account's people, or those in one unit").option('--unit <unit>', 'only the people in this unit'),
    (account, o: { unit?: string }) => ctx.api.GET('/v1/accounts/{account}/people', { params: { path: { account }, query: defined({ unit_id: o.unit }) } }),
    [
      { header: 'id', value: (p) => p.id },
      { header: 'name', value: (p) => p.name },
      { header: 'unit', value: (p) => p.unit_id },
      { header: 'active', value: (p) => p.active },
      { header: 'created_at', value: (p) => p.created_at },
    ],
  );

  // ---- agents -------------------------------------------------------------------------------------
  const agents = program.command('agents').description("the account's agents (create: admin, finance, a member for themselves; deactivate: admin, finance)");
  createCommand(
    ctx,
    agents,
    'add an agent owned by a person',
    [
      { flags: '--name <name>', field: 'name', description: 'display name', required: true },
      { flags: '--owner <person>', field: 'owner_person_id', description: 'the person it works for (a member: themselves)', required: true },
    ],
    (account, body) => ctx.api.POST('/v1/accounts/{account}/agents', { params: { path: { account } }, body: body as Schemas['CreateAgent'] }),
    (agent) => `agent ${agent.id} (${agent.name}) created, owned by ${agent.owner_person_id}`,
  );
  jsonOption(accountOption(agents.command('deactivate <agent>').description('deactivate an agent: its keys stop working'))).action(async (agent: string, o: WriteOptions) => {
    const account = ctx.account(o.account);
    const gone = await ctx.call(ctx.api.DELETE('/v1/accounts/{account}/agents/{agent}', { params: { path: { account, agent } } }));
    show(o, gone, `agent ${gone.id} deactivated`);
  });
  listCommand(
    ctx,
    agents.command('list').description("the account's agents, or those one person owns").option('--owner <person>', 'only the agents this person owns'),
    (account, o: { owner?: string }) => ctx.api.GET('/v1/accounts/{account}/agents', { params: { path: { account }, query: defined({ owner_person_id: o.owner }) } }),
    [
      { header: 'id', value: (a) => a.id },
      { header: 'name', value: (a) => a.name },
      { header: 'owner', value: (a) => a.owner_person_id },
      { header: 'active', value: (a) => a.active },
      { header: 'created_at', value: (a) => a.created_at },
    ],
  );
}
