// `tail`: the live meter, like a water meter: each operation the moment it is accepted and the running
// totals for the month, until Ctrl-C. Reads the service's server-sent events through the typed client.
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { Command } from 'commander';
import type { components } from '../../client/client.js';
import { failure, unreachable } from '../api.js';
import type { Context, DataOptions } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { count, csv, type Column } from '../output.js';
import { accountOption, dataOptions } from './options.js';

type Ready = components['schemas']['MeterStreamReady'];
type Operation = components['schemas']['MeterStreamOperation'];
type Totals = components['schemas']['StreamTotals'];

const totalsLine = (t: Totals) => `${count(t.calls)} calls, ${count(t.tokens.total)} tokens, ${t.cost}`;

const COLUMNS: Column<Operation>[] = [
  { header: 'timestamp', value: (m) => m.event.timestamp },
  { header: 'id', value: (m) => m.event.id },
  { header: 'operation', value: (m) => m.event.operation },
  { header: 'model', value: (m) => m.event.model ?? m.event.model_name },
  { header: 'tokens', value: (m) => m.event.tokens.total },
  { header: 'cost', value: (m) => m.event.cost?.total ?? null },
  { header: 'label', value: (m) => m.event.label },
  { header: 'month_calls', value: (m) => m.totals.calls },
  { header: 'month_tokens', value: (m) => m.totals.tokens.total },
  { header: 'month_cost', value: (m) => m.totals.cost },
];

/** One operation as a line people read. */
export function operationLine(m: Operation): string {
  const e = m.event;
  const time = e.timestamp.slice(11, 19);
  const cost = e.cost?.total ?? 'unpriced';
  return `${time}  ${e.operation ?? '-'}  ${e.model ?? e.model_name ?? '-'}  ${count(e.tokens.total)} tokens  ${cost}  ${e.label}   | month: ${totalsLine(m.totals)}`;
}

export function registerTail(program: Command, ctx: Context): void {
  const tail = program
    .command('tail')
    .description('the live meter: each operation as it happens and the running month totals, until Ctrl-C (--json: one JSON line per message)')
    .option('--person <id>', 'only this person (member and agent keys always see their own)');
  accountOption(tail);
  dataOptions(tail).action(async (o: DataOptions & { account?: string; person?: string }) => {
    const account = ctx.account(o.account);
    const url = ctx.credentials.url;
    const stop = new AbortController();
    const onInterrupt = () => stop.abort();
    ctx.io.interrupt.addEventListener('abort', onInterrupt);
    try {
      let answer;
      try {
        answer = await ctx.streamingApi().GET('/v1/accounts/{account}/meter/stream', {
          params: { path: { account }, query: o.person ? { person: o.person } : {} },
          parseAs: 'stream',
          signal: stop.signal,
        });
      } catch (error) {
        if (stop.signal.aborted) return;
        throw unreachable(url, error);
      }
      if (!answer.response.ok) throw failure(answer.response.status, answer.error);
      const messages = answer.data!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
      if (o.csv) ctx.out(csv([], COLUMNS));
      try {
        for await (const message of messages) {
          const data = JSON.parse(message.data) as unknown;
          if (o.json) ctx.out(JSON.stringify({ type: message.event, ...(data as object) }));
          else if (message.event === 'ready') {
            const ready = data as Ready;
            if (!o.csv) ctx.out(`live meter for ${account}${o.person ? `/${o.person}` : ''}, month: ${totalsLine(ready.totals)} (Ctrl-C to stop)`);
          } else if (message.event === 'operation') {
            const op = data as Operation;
            ctx.out(o.csv ? csv([op], COLUMNS).split('\r\n')[1]! : operationLine(op));
          }
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        throw unreachable(url, error);
      }
      if (!stop.signal.aborted) throw new CliError(EXIT.unavailable, 'the service ended the stream');
    } finally {
      ctx.io.interrupt.removeEventListener('abort', onInterrupt);
    }
  });
}
