// Reading: the meter, the per-operation listing and the models waiting for a price.
import type { Command } from 'commander';
import type { components, operations } from '../../client/client.js';
import { CsvColumnsChanged, csvFilePages } from '../../client/csv-pages.js';
import { jsonBody } from '../api.js';
import type { Context, DataOptions } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { count, percent, type Column } from '../output.js';
import { accountOption, dataOptions, defined, filterOptions, positiveInteger } from './options.js';

type MeterQuery = NonNullable<operations['ReadingsController_meter']['parameters']['query']>;
type EventsQuery = NonNullable<operations['ReadingsController_events']['parameters']['query']>;
type MeterRow = components['schemas']['MeterRow'];
type MeteredEvent = components['schemas']['MeteredEvent'];
type UnpricedModel = components['schemas']['UnpricedModel'];

interface Filters extends DataOptions {
  account?: string;
  from?: string;
  to?: string;
  person?: string;
  unit?: string;
  agent?: string;
  model?: string;
  channel?: MeterQuery['channel'];
  label?: MeterQuery['label'];
}

const filtersOf = (o: Filters) =>
  defined({ from: o.from, to: o.to, person: o.person, unit: o.unit, agent: o.agent, model: o.model, channel: o.channel, label: o.label });

export const GROUPS = ['model', 'tier', 'unit', 'person', 'agent', 'operation', 'channel', 'label', 'session_context', 'day', 'hour'];

/** Token counts by kind: a table shows the common four (the CSV, the service's, has all of them). */
function tokenColumns<T>(tokens: (row: T) => components['schemas']['TokenCounts']): Column<T>[] {
  return (['input', 'cached_input', 'output', 'total'] as const).map((k) => ({
    header: k === 'cached_input' ? 'cached' : k,
    value: (r: T) => tokens(r)[k],
    show: count,
    right: true,
  }));
}

const ratio = (r: { effective_ratio: number | null }) => r.effective_ratio;

export function registerRead(program: Command, ctx: Context): void {
  const meter = program
    .command('meter')
    .description('meter totals over a range, grouped by any dimensions (a table, --json or --csv)')
    .option('-g, --group-by <dims>', `comma list of ${GROUPS.join(', ')}`);
  accountOption(meter);
  filterOptions(meter);
  dataOptions(meter).action(async (o: Filters & { groupBy?: string }) => {
    const account = ctx.account(o.account);
    const query: MeterQuery = { ...filtersOf(o), ...defined({ group_by: o.groupBy }) };
    if (o.csv) {
      // The service's own CSV, byte for byte (metering/readings/csv.ts: a `key_<dim>` column per dimension,
      // every token kind), so the file is the same whether it is exported here or from the API.
      const csv = await ctx.call(ctx.api.GET('/v1/accounts/{account}/meter', { params: { path: { account }, query: { ...query, format: 'csv' } }, parseAs: 'text' }));
      ctx.io.stdout.write(csv);
      return;
    }
    const reading = jsonBody(await ctx.call(ctx.api.GET('/v1/accounts/{account}/meter', { params: { path: { account }, query } })));
    const t = reading.totals;
    // Tokens of models not priced yet are outside the cost: the table says so where there are any, so a
    // row of them never reads as costing nothing (--json and --csv always carry unpriced_tokens).
    const unpriced = t.unpriced_tokens > 0;
    const columns: Column<MeterRow>[] = [
      ...reading.group_by.map((dim) => ({ header: dim, value: (r: MeterRow) => r.key[dim] ?? null, show: (v: string | null) => v ?? '-' })),
      { header: 'calls', value: (r) => r.calls, show: count, right: true },
      ...tokenColumns<MeterRow>((r) => r.tokens),
      { header: 'cost', value: (r) => r.cost, right: true },
      ...(unpriced ? [{ header: 'unpriced_tokens', value: (r: MeterRow) => r.unpriced_tokens, show: count, right: true }] : []),
      { header: 'effective_ratio', value: ratio, show: percent, right: true },
    ];
    const footer =
      `${reading.from} .. ${reading.to}: ${count(t.calls)} calls, ${count(t.tokens.total)} tokens, cost ${t.cost}` +
      `${unpriced ? ` (not counting ${count(t.unpriced_tokens)} tokens of unpriced models: see unpriced-models)` : ''}, ` +
      `effective ${percent(t.effective_ratio)}`;
    const rows = reading.group_by.length === 0 ? [{ key: {}, ...t } as MeterRow] : reading.rows;
    ctx.print(o, reading, rows, columns, footer);
  });

  const events = program
    .command('events')
    .description('the per-operation listing, newest first, paged (a table, --json or --csv)')
    .option('--operation <name>', 'only this operation')
    .option('--task <id>', 'only this task')
    .option('--session <id>', 'only this session')
    .option('-n, --limit <n>', 'operations per page (the service caps it)', positiveInteger)
    .option('--cursor <cursor>', 'the page after this cursor (printed after a page that has more)')
    .option('--all', 'follow the cursor to the last page');
  accountOption(events);
  filterOptions(events);
  dataOptions(events).action(
    async (o: Filters & { operation?: string; task?: string; session?: string; limit?: number; cursor?: string; all?: boolean }) => {
      const account = ctx.account(o.account);
      const base: EventsQuery = {
        ...filtersOf(o),
        ...defined({ operation: o.operation, task: o.task, session: o.session, limit: o.limit === undefined ? undefined : String(o.limit) }),
      };
      if (o.csv) {
        // The service's own CSV (metering/readings/csv.ts), a page per request; with --all the pages make one
        // file (client/csv-pages.ts), each page written as it comes.
        let next: string | null = null;
        try {
          const fetchPage = async (cursor: string | undefined) => {
            const { data: csv, response } = await ctx.answered(
              ctx.api.GET('/v1/accounts/{account}/events', { params: { path: { account }, query: { ...base, ...defined({ cursor }), format: 'csv' } }, parseAs: 'text' }),
            );
            return { csv, next: response.headers.get('x-next-cursor') };
          };
          for await (const page of csvFilePages(fetchPage, { ...defined({ cursor: o.cursor }), all: o.all === true })) {
            ctx.io.stdout.write(page.text);
            next = page.next;
          }
        } catch (error) {
          if (error instanceof CsvColumnsChanged) throw new CliError(EXIT.failure, "the events CSV's columns changed between two pages (the service was upgraded?); run the command again");
          throw error;
        }
        if (next !== null) ctx.err(`next cursor: ${next}`);
        return;
      }
      const data: MeteredEvent[] = [];
      let cursor = o.cursor;
      let next: string | null;
      do {
        const page = jsonBody(
          await ctx.call(ctx.api.GET('/v1/accounts/{account}/events', { params: { path: { account }, query: { ...base, ...defined({ cursor }) } } })),
        );
        data.push(...page.data);
        next = page.next_cursor;
        cursor = next ?? undefined;
      } while (o.all && next !== null);
      const columns: Column<MeteredEvent>[] = [
        { header: 'timestamp', value: (e) => e.timestamp },
        { header: 'id', value: (e) => e.id },
        { header: 'operation', value: (e) => e.operation },
        { header: 'model', value: (e) => e.model ?? e.model_name },
        { header: 'tier', value: (e) => e.tier },
        { header: 'person_id', value: (e) => e.person_id },
        { header: 'agent_id', value: (e) => e.agent_id },
        { header: 'tokens', value: (e) => e.tokens.total, show: count, right: true },
        { header: 'cost', value: (e) => e.cost?.total ?? null, show: (v: string | null) => v ?? 'unpriced', right: true },
        { header: 'label', value: (e) => e.label },
      ];
      ctx.print(o, { data, next_cursor: next }, data, columns);
      if (next !== null && !o.json) ctx.err(`more: tokenmeter events --cursor ${next}  (or --all)`);
    },
  );

  dataOptions(
    program
      .command('unpriced-models')
      .description('models reported that the catalog does not price yet (sales, admin)'),
  ).action(async (o: DataOptions) => {
    const list = await ctx.call(ctx.api.GET('/v1/unpriced-models'));
    const columns: Column<UnpricedModel>[] = [
      { header: 'model', value: (m) => m.model },
      { header: 'events', value: (m) => m.events, show: count, right: true },
      { header: 'accounts', value: (m) => m.accounts, right: true },
      { header: 'first_seen', value: (m) => m.first_seen },
      { header: 'last_seen', value: (m) => m.last_seen },
    ];
    ctx.print(o, list, list.data, columns);
  });
}
