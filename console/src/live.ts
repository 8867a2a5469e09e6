// The live meter: GET /v1/accounts/:account/meter/stream through the typed client (a key travels in a
// header, which EventSource cannot send), its server-sent events parsed by eventsource-parser.
import { createParser } from 'eventsource-parser';
import type { Schemas, TokenmeterClient } from './api';

export type StreamReady = Schemas['MeterStreamReady'];
export type StreamOperation = Schemas['MeterStreamOperation'];

export interface LiveHandlers {
  onReady: (ready: StreamReady) => void;
  onOperation: (operation: StreamOperation) => void;
  onState: (state: 'connecting' | 'live' | 'retrying') => void;
}

/** Streams until `signal` aborts, reconnecting after a drop (a reconnect starts with fresh totals). */
export async function followMeter(client: TokenmeterClient, account: string, handlers: LiveHandlers, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    handlers.onState('connecting');
    try {
      const { response } = await client.GET('/v1/accounts/{account}/meter/stream', {
        params: { path: { account } },
        parseAs: 'stream',
        signal,
      });
      if (!response.ok || response.body === null) throw new Error(`stream answered ${response.status}`);
      const parser = createParser({
        onEvent: (message) => {
          if (message.event === 'ready') {
            handlers.onReady(JSON.parse(message.data) as StreamReady);
            handlers.onState('live');
          } else if (message.event === 'operation') {
            handlers.onOperation(JSON.parse(message.data) as StreamOperation);
          }
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      if (signal.aborted) return;
    }
    handlers.onState('retrying');
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
