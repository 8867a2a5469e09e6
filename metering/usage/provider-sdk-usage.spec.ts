// Usage objects declared with the providers' own SDK types and filled with EVERY field those types have:
// when an SDK release adds a field, `npm run typecheck` fails here until the fixture carries it, and this
// test then fails until usage-shapes.ts classifies it (an unclassified field shows up as ignored).
import type Anthropic from '@anthropic-ai/sdk';
import type OpenAI from 'openai';
import { normalizeUsage, totalTokens, type CanonicalUsage, type NormalizeUsageResult } from './normalize-usage.js';

/** T with every property required and non-null, all the way down: the type checker then insists on all of them. */
type Complete<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]-?: Complete<NonNullable<T[K]>> } : T;

const u = (input: number, cached_input: number, cache_write: number, output: number, reasoning: number): CanonicalUsage => ({
  input,
  cached_input,
  cache_write,
  output,
  reasoning,
});

/** What the event would carry: the SDK object as JSON, as a client reports it. */
function normalize(sdkObject: object, format?: string): NormalizeUsageResult {
  return normalizeUsage(JSON.parse(JSON.stringify(sdkObject)) as unknown, format);
}

describe('usage objects of the providers\' SDK types, every field filled', () => {
  it('openai CompletionUsage (Chat Completions)', () => {
    const usage = {
      prompt_tokens: 5000,
      completion_tokens: 800,
      total_tokens: 5800,
      prompt_tokens_details: { audio_tokens: 100, cache_write_tokens: 1500, cached_tokens: 2000, image_tokens: 300, text_tokens: 4600 },
      completion_tokens_details: { accepted_prediction_tokens: 10, audio_tokens: 0, reasoning_tokens: 300, rejected_prediction_tokens: 5, text_tokens: 500 },
    } satisfies Complete<OpenAI.CompletionUsage>;
    const expected = u(1500, 2000, 1500, 800, 300);
    expect(normalize(usage)).toEqual({ ok: true, usage: expected, format: 'openai_chat', ignored: [] });
    expect(normalize(usage, 'openai_chat')).toEqual({ ok: true, usage: expected, format: 'openai_chat', ignored: [] });
    expect(totalTokens(expected)).toBe(usage.total_tokens);
  });

  it('openai ResponseUsage (Responses)', () => {
    const usage = {
      input_tokens: 9000,
      input_tokens_details: { cache_write_tokens: 6000, cached_tokens: 2000, cache_write_tokens_details: { ttl_12h_tokens: 1000, ttl_30m_tokens: 5000 } },
      output_tokens: 300,
      output_tokens_details: { reasoning_tokens: 100 },
      total_tokens: 9300,
    } satisfies Complete<OpenAI.Responses.ResponseUsage>;
    const expected = u(1000, 2000, 6000, 300, 100);
    expect(normalize(usage)).toEqual({ ok: true, usage: expected, format: 'openai_responses', ignored: [] });
    expect(totalTokens(expected)).toBe(usage.total_tokens);
  });

  it('@anthropic-ai/sdk Usage (Messages)', () => {
    const usage = {
      cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 3000 },
      cache_creation_input_tokens: 4000,
      cache_read_input_tokens: 20000,
      inference_geo: 'us',
      input_tokens: 50,
      output_tokens: 1200,
      output_tokens_details: { thinking_tokens: 900 },
      server_tool_use: { web_fetch_requests: 1, web_search_requests: 2 },
      service_tier: 'standard',
      speed: 'fast',
    } satisfies Complete<Anthropic.Usage>;
    expect(normalize(usage)).toEqual({ ok: true, usage: u(50, 20000, 4000, 1200, 900), format: 'anthropic', ignored: [] });
  });

  it('@anthropic-ai/sdk Usage as the API sends it without caching (nulls where the type allows them)', () => {
    const usage: Anthropic.Usage = {
      cache_creation: null,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      inference_geo: null,
      input_tokens: 25,
      output_tokens: 40,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: null,
      speed: null,
    };
    expect(normalize(usage)).toEqual({ ok: true, usage: u(25, 0, 0, 40, 0), format: 'anthropic', ignored: [] });
  });

  it('@anthropic-ai/sdk MessageDeltaUsage (a stream\'s cumulative usage) reads like Usage', () => {
    const usage = {
      cache_creation_input_tokens: 10,
      cache_read_input_tokens: 20,
      input_tokens: 30,
      output_tokens: 40,
      output_tokens_details: { thinking_tokens: 15 },
      server_tool_use: { web_fetch_requests: 0, web_search_requests: 0 },
    } satisfies Complete<Anthropic.MessageDeltaUsage>;
    expect(normalize(usage, 'anthropic')).toEqual({ ok: true, usage: u(30, 20, 10, 40, 15), format: 'anthropic', ignored: [] });
  });

  it('@anthropic-ai/sdk BetaUsage: the beta-only fields are accepted and named as ignored, the counts are those of Usage', () => {
    const usage = {
      cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 64 },
      cache_creation_input_tokens: 64,
      cache_read_input_tokens: 128,
      fallback_credit: { status: { type: 'redeemed' } },
      inference_geo: 'eu',
      input_tokens: 8,
      iterations: [
        { type: 'message', cache_creation: null, cache_creation_input_tokens: 64, cache_read_input_tokens: 128, input_tokens: 8, model: 'claude-opus-4-1', output_tokens: 16 },
      ],
      output_tokens: 16,
      output_tokens_details: { thinking_tokens: 4 },
      server_tool_use: { web_fetch_requests: 0, web_search_requests: 1 },
      service_tier: 'priority',
      speed: 'standard',
    } satisfies Complete<Anthropic.Beta.Messages.BetaUsage>;
    expect(normalize(usage)).toEqual({
      ok: true,
      usage: u(8, 128, 64, 16, 4),
      format: 'anthropic',
      ignored: ['usage.fallback_credit', 'usage.iterations'],
    });
  });
});
