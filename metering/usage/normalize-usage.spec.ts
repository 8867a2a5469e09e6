// Specifies usage normalisation: real provider payloads, every rejection code, and round-trip properties
// (canonical -> provider shape -> canonical) that prove no token is lost or counted twice.
import fc from 'fast-check';
import {
  MAX_IGNORED_USAGE_FIELDS,
  normalizeUsage,
  totalTokens,
  USAGE_FORMATS,
  type CanonicalUsage,
  type NormalizeUsageResult,
  type UsageErrorCode,
  type UsageFormat,
} from './normalize-usage.js';
import {
  ANTHROPIC_SHAPE,
  CANONICAL_SHAPE,
  DASHSCOPE_SHAPE,
  OPENAI_CHAT_SHAPE,
  OPENAI_RESPONSES_SHAPE,
  type UsageShape,
} from './usage-shapes.js';

function usageOf(result: NormalizeUsageResult): CanonicalUsage {
  if (!result.ok) throw new Error(`expected ok, got ${result.code} at ${result.field}: ${result.message}`);
  return result.usage;
}

function expectOk(payload: unknown, usage: CanonicalUsage, format: UsageFormat, explicit?: UsageFormat, ignored: string[] = []): void {
  const result = normalizeUsage(payload, explicit);
  expect(result).toEqual({ ok: true, usage, format, ignored });
}

function expectRejected(payload: unknown, code: UsageErrorCode, field: string, explicit?: string | null): void {
  const result = normalizeUsage(payload, explicit);
  expect(result).toMatchObject({ ok: false, code, field });
  if (!result.ok) expect(result.message.length).toBeGreaterThan(10);
}

const u = (input: number, cached_input: number, cache_write: number, output: number, reasoning: number): CanonicalUsage => ({
  input,
  cached_input,
  cache_write,
  output,
  reasoning,
});

describe('normalizeUsage: real provider payloads', () => {
  it('OpenAI Chat Completions with cached prompt and reasoning tokens (prompt_tokens includes cached)', () => {
    const usage = {
      prompt_tokens: 2006,
      completion_tokens: 300,
      total_tokens: 2306,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 192,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
    expectOk(usage, u(86, 1920, 0, 300, 192), 'openai_chat');
    expect(totalTokens(usageOf(normalizeUsage(usage)))).toBe(2306);
  });

  it('OpenAI Chat Completions without details (older models, null details)', () => {
    expectOk({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 }, u(19, 0, 0, 10, 0), 'openai_chat');
    expectOk(
      { prompt_tokens: 1316, completion_tokens: 93, total_tokens: 1409, completion_tokens_details: null, prompt_tokens_details: { audio_tokens: null, cached_tokens: 1152 } },
      u(164, 1152, 0, 93, 0),
      'openai_chat',
    );
  });

  it('OpenAI Responses API with cached input and reasoning (input_tokens includes cached)', () => {
    const usage = {
      input_tokens: 328,
      input_tokens_details: { cached_tokens: 256 },
      output_tokens: 1052,
      output_tokens_details: { reasoning_tokens: 832 },
      total_tokens: 1380,
    };
    expectOk(usage, u(72, 256, 0, 1052, 832), 'openai_responses');
  });

  it('Anthropic Messages with a cache write and the ephemeral breakdown (not double counted)', () => {
    const usage = {
      input_tokens: 21,
      cache_creation_input_tokens: 188086,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 150000, ephemeral_1h_input_tokens: 38086 },
      output_tokens: 393,
      service_tier: 'standard',
      server_tool_use: { web_search_requests: 0 },
    };
    const result = usageOf(normalizeUsage(usage));
    expect(result).toEqual(u(21, 0, 188086, 393, 0));
    expect(totalTokens(result)).toBe(21 + 188086 + 393);
  });

  it('Anthropic Messages with a cache read (input_tokens excludes cache reads and writes)', () => {
    expectOk(
      { input_tokens: 50, cache_read_input_tokens: 100000, cache_creation_input_tokens: 248, output_tokens: 503 },
      u(50, 100000, 248, 503, 0),
      'anthropic',
    );
  });

  it('Anthropic breakdown alone fills in the cache write count', () => {
    expectOk(
      { input_tokens: 3, cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 24 }, output_tokens: 7 },
      u(3, 0, 1024, 7, 0),
      'anthropic',
    );
  });

  it('Anthropic with no cache fields: bare input_tokens/output_tokens resolves to anthropic', () => {
    expectOk({ input_tokens: 12, output_tokens: 6 }, u(12, 0, 0, 6, 0), 'anthropic');
    // Responses and DashScope-native count the same tokens for the same bare shape.
    expectOk({ input_tokens: 12, output_tokens: 6 }, u(12, 0, 0, 6, 0), 'openai_responses', 'openai_responses');
    expectOk({ input_tokens: 12, output_tokens: 6 }, u(12, 0, 0, 6, 0), 'dashscope', 'dashscope');
  });

  it('DashScope OpenAI-compatible mode, implicit cache hit', () => {
    const usage = { prompt_tokens: 3019, completion_tokens: 104, total_tokens: 3123, prompt_tokens_details: { cached_tokens: 2048 } };
    expectOk(usage, u(971, 2048, 0, 104, 0), 'openai_chat');
    expectOk(usage, u(971, 2048, 0, 104, 0), 'dashscope', 'dashscope');
  });

  it('DashScope OpenAI-compatible mode, explicit cache creation is inside prompt_tokens', () => {
    expectOk(
      {
        prompt_tokens: 18628,
        completion_tokens: 344,
        total_tokens: 18972,
        prompt_tokens_details: { text_tokens: 18628, cache_creation_input_tokens: 18613, cache_type: 'ephemeral', cached_tokens: 0 },
      },
      u(15, 0, 18613, 344, 0),
      'openai_chat',
    );
  });

  it('DashScope OpenAI-compatible mode, thinking model with cache creation breakdown', () => {
    expectOk(
      {
        prompt_tokens: 29719,
        completion_tokens: 435,
        total_tokens: 30154,
        completion_tokens_details: { reasoning_tokens: 382, text_tokens: 435 },
        prompt_tokens_details: {
          text_tokens: 29719,
          cache_creation: { ephemeral_5m_input_tokens: 29713 },
          cache_creation_input_tokens: 29713,
          cache_type: 'ephemeral',
          cached_tokens: 0,
        },
      },
      u(6, 0, 29713, 435, 382),
      'dashscope',
      'dashscope',
    );
  });

  it('DashScope native mode, implicit cache hit in prompt_tokens_details (input_tokens includes cached)', () => {
    expectOk(
      { input_tokens: 3019, output_tokens: 101, prompt_tokens_details: { cached_tokens: 2048 }, total_tokens: 3120 },
      u(971, 2048, 0, 101, 0),
      'dashscope',
    );
  });

  it('DashScope native mode, vision model reporting top-level cached_tokens and a modality breakdown', () => {
    expectOk(
      {
        input_tokens: 1292,
        output_tokens: 87,
        input_tokens_details: { text_tokens: 43, image_tokens: 1249 },
        total_tokens: 1379,
        output_tokens_details: { text_tokens: 87 },
        image_tokens: 1249,
        cached_tokens: 1152,
      },
      u(140, 1152, 0, 87, 0),
      'dashscope',
    );
  });

  it('DashScope native mode, explicit cache write and reasoning', () => {
    expectOk(
      {
        input_tokens: 2059,
        output_tokens: 201,
        total_tokens: 2260,
        prompt_tokens_details: {
          cached_tokens: 0,
          cache_type: 'ephemeral',
          cache_creation_input_tokens: 2048,
          cache_creation: { ephemeral_5m_input_tokens: 2048 },
        },
        output_tokens_details: { reasoning_tokens: 170 },
      },
      u(11, 0, 2048, 201, 170),
      'dashscope',
    );
  });

  it('DashScope native mode with only output details: explicit format and shape agree on the counts', () => {
    const usage = { input_tokens: 24, output_tokens: 1024, total_tokens: 1048, output_tokens_details: { reasoning_tokens: 812 } };
    expectOk(usage, u(24, 0, 0, 1024, 812), 'dashscope', 'dashscope');
    expectOk(usage, u(24, 0, 0, 1024, 812), 'openai_responses');
  });

  it('canonical usage, missing fields are 0; our own format has no total: total_tokens is an unknown field there', () => {
    expectOk({ input: 100, cached_input: 900, output: 50, reasoning: 20 }, u(100, 900, 0, 50, 20), 'canonical');
    expectOk({ output: 1 }, u(0, 0, 0, 1, 0), 'canonical');
    expectRejected({ input: 1, cache_write: 2, output: 3, total_tokens: 6 }, 'unknown_usage_field', 'usage.total_tokens');
    expectOk({}, u(0, 0, 0, 0, 0), 'canonical', 'canonical');
  });

  it('folds -0 into 0', () => {
    const result = usageOf(normalizeUsage({ input: -0, output: 2 }));
    expect(Object.is(result.input, 0)).toBe(true);
  });
});

describe('normalizeUsage: rejections', () => {
  it('rejects a non-object usage and an unknown usage_format', () => {
    expectRejected(null, 'usage_not_object', 'usage');
    expectRejected([1, 2], 'usage_not_object', 'usage');
    expectRejected('{"input":1}', 'usage_not_object', 'usage');
    expectRejected({ input: 1 }, 'unknown_usage_format', 'usage_format', 'gemini');
  });

  it('rejects an unrecognisable shape', () => {
    expectRejected({}, 'unknown_shape', 'usage');
    expectRejected({ tokens: 5 }, 'unknown_shape', 'usage');
    expectRejected({ prompt_tokens: null, total_tokens: 5 }, 'unknown_shape', 'usage');
  });

  it('rejects negative, fractional, NaN, infinite, string and unsafe counts, naming the field', () => {
    expectRejected({ input: -1 }, 'negative', 'usage.input');
    expectRejected({ prompt_tokens: -3, completion_tokens: 1 }, 'negative', 'usage.prompt_tokens');
    expectRejected({ input: 1.5 }, 'fractional', 'usage.input');
    expectRejected({ input_tokens: 10, output_tokens: 2.25 }, 'fractional', 'usage.output_tokens');
    expectRejected({ input: Number.NaN }, 'not_finite', 'usage.input');
    expectRejected({ output: Number.POSITIVE_INFINITY }, 'not_finite', 'usage.output');
    expectRejected({ prompt_tokens: '12', completion_tokens: 1 }, 'not_a_number', 'usage.prompt_tokens');
    expectRejected({ input: true }, 'not_a_number', 'usage.input');
    expectRejected({ input: Number.MAX_SAFE_INTEGER + 1 }, 'unsafe_integer', 'usage.input');
    expectRejected(
      { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: '4' } },
      'not_a_number',
      'usage.prompt_tokens_details.cached_tokens',
    );
    expectRejected(
      { input_tokens: 10, output_tokens: 4, output_tokens_details: { reasoning_tokens: -1 } },
      'negative',
      'usage.output_tokens_details.reasoning_tokens',
    );
  });

  it('rejects parts that sum past the safe integer range', () => {
    expectRejected({ input: Number.MAX_SAFE_INTEGER, output: 1 }, 'unsafe_integer', 'usage');
  });

  it('rejects details that are not objects', () => {
    expectRejected({ prompt_tokens: 1, prompt_tokens_details: 5 }, 'not_an_object', 'usage.prompt_tokens_details');
    expectRejected({ input_tokens: 1, cache_creation: [] }, 'not_an_object', 'usage.cache_creation');
  });

  it('rejects cached tokens above the prompt that includes them', () => {
    expectRejected(
      { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 101 } },
      'cached_exceeds_input',
      'usage.prompt_tokens_details.cached_tokens',
    );
    expectRejected(
      { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 60, cache_creation_input_tokens: 41 } },
      'cached_exceeds_input',
      'usage.prompt_tokens_details.cache_creation_input_tokens',
    );
    expectRejected(
      { input_tokens: 5, output_tokens: 1, input_tokens_details: { cached_tokens: 6 } },
      'cached_exceeds_input',
      'usage.input_tokens_details.cached_tokens',
    );
    expectRejected(
      { input_tokens: 5, output_tokens: 1, prompt_tokens_details: { cached_tokens: 6 } },
      'cached_exceeds_input',
      'usage.prompt_tokens_details.cached_tokens',
    );
  });

  it('rejects reasoning above the output that includes it', () => {
    expectRejected({ output: 5, reasoning: 6 }, 'reasoning_exceeds_output', 'usage.reasoning');
    expectRejected(
      { prompt_tokens: 1, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 6 } },
      'reasoning_exceeds_output',
      'usage.completion_tokens_details.reasoning_tokens',
    );
    expectRejected(
      { input_tokens: 1, output_tokens: 5, output_tokens_details: { reasoning_tokens: 6 } },
      'reasoning_exceeds_output',
      'usage.output_tokens_details.reasoning_tokens',
    );
  });

  it('rejects total_tokens inconsistent with the parts', () => {
    expectRejected({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 16 }, 'total_mismatch', 'usage.total_tokens');
    expectRejected(
      { input_tokens: 10, output_tokens: 5, input_tokens_details: { cached_tokens: 4 }, total_tokens: 11 },
      'total_mismatch',
      'usage.total_tokens',
    );
    // A relay adding total_tokens to Anthropic usage must count cache reads and writes once each.
    expectRejected(
      { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5, total_tokens: 15 },
      'total_mismatch',
      'usage.total_tokens',
    );
    expectOk(
      { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5, total_tokens: 105 },
      u(10, 90, 0, 5, 0),
      'anthropic',
    );
    expectRejected({ input: 1, output: 1, total_tokens: 2 }, 'unknown_usage_field', 'usage.total_tokens');
    expectRejected({ prompt_tokens: 1, completion_tokens: 1, total_tokens: '2' }, 'not_a_number', 'usage.total_tokens');
  });

  it('rejects a cache_creation breakdown that contradicts the cache write count', () => {
    expectRejected(
      { input_tokens: 1, cache_creation_input_tokens: 100, cache_creation: { ephemeral_5m_input_tokens: 60, ephemeral_1h_input_tokens: 60 }, output_tokens: 1 },
      'cache_creation_mismatch',
      'usage.cache_creation',
    );
    expectRejected(
      { input_tokens: 500, output_tokens: 1, prompt_tokens_details: { cache_creation_input_tokens: 100, cache_creation: { ephemeral_5m_input_tokens: 99 } } },
      'cache_creation_mismatch',
      'usage.prompt_tokens_details.cache_creation',
    );
  });

  it('rejects DashScope cached_tokens copies that disagree', () => {
    expectRejected(
      { input_tokens: 500, output_tokens: 1, cached_tokens: 100, prompt_tokens_details: { cached_tokens: 90 } },
      'cached_tokens_mismatch',
      'usage.cached_tokens',
    );
    // Agreeing copies are the same tokens, taken once.
    expectOk(
      { input_tokens: 500, output_tokens: 1, cached_tokens: 100, prompt_tokens_details: { cached_tokens: 100 } },
      u(400, 100, 0, 1, 0),
      'dashscope',
    );
  });

  it('rejects shapes that mix two formats instead of guessing which numbers overlap', () => {
    expectRejected(
      { prompt_tokens: 120, completion_tokens: 8, cache_read_input_tokens: 96 },
      'ambiguous_shape',
      'usage.cache_read_input_tokens',
    );
    expectRejected({ input: 5, prompt_tokens: 5 }, 'unknown_usage_field', 'usage.prompt_tokens');
    expectRejected({ prompt_tokens: 5, input_tokens: 5 }, 'ambiguous_shape', 'usage.input_tokens');
    expectRejected(
      { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: 3, cached_tokens: 3 },
      'ambiguous_shape',
      'usage.cached_tokens',
    );
  });

  it('rejects an object with parts two shapes price, not one of them', () => {
    // OpenAI's cache_write_tokens inside input_tokens_details, DashScope's image_tokens at top level.
    expectRejected(
      { input_tokens: 10, input_tokens_details: { cached_tokens: 0, cache_write_tokens: 4 }, output_tokens: 1, image_tokens: 1 },
      'ambiguous_shape',
      'usage.image_tokens',
    );
  });

  it('rejects an explicit usage_format whose shape carries another format\'s fields', () => {
    expectRejected({ prompt_tokens: 5, completion_tokens: 1 }, 'shape_mismatch', 'usage.completion_tokens', 'anthropic');
    expectRejected({ input_tokens: 5, output_tokens: 1 }, 'shape_mismatch', 'usage.input_tokens', 'openai_chat');
    expectRejected({ input_tokens: 5, cache_read_input_tokens: 1 }, 'shape_mismatch', 'usage.cache_read_input_tokens', 'openai_responses');
    expectRejected({ input: 5 }, 'shape_mismatch', 'usage.input', 'dashscope');
  });
});


describe('normalizeUsage: cache writes and thinking, as the providers send them', () => {
  it('OpenAI Chat: prompt_tokens_details.cache_write_tokens is a part of prompt_tokens, priced as cache_write', () => {
    expectOk(
      { prompt_tokens: 5000, completion_tokens: 20, total_tokens: 5020, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 3000 } },
      u(1000, 1000, 3000, 20, 0),
      'openai_chat',
    );
    // OpenAI's key and DashScope's are the same tokens: sent together they must agree, and are taken once.
    expectOk(
      { prompt_tokens: 500, completion_tokens: 1, prompt_tokens_details: { cache_write_tokens: 400, cache_creation_input_tokens: 400 } },
      u(100, 0, 400, 1, 0),
      'openai_chat',
    );
    expectRejected(
      { prompt_tokens: 500, completion_tokens: 1, prompt_tokens_details: { cache_write_tokens: 400, cache_creation_input_tokens: 300 } },
      'cache_write_mismatch',
      'usage.prompt_tokens_details.cache_creation_input_tokens',
    );
    expectRejected(
      { prompt_tokens: 500, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 200, cache_write_tokens: 301 } },
      'cached_exceeds_input',
      'usage.prompt_tokens_details.cache_write_tokens',
    );
  });

  it('OpenAI Responses: input_tokens_details.cache_write_tokens is a part of input_tokens; its retention breakdown must add up', () => {
    const usage = {
      input_tokens: 9000,
      input_tokens_details: { cached_tokens: 2000, cache_write_tokens: 6000, cache_write_tokens_details: { ttl_30m_tokens: 5000, ttl_12h_tokens: 1000 } },
      output_tokens: 300,
      output_tokens_details: { reasoning_tokens: 100 },
      total_tokens: 9300,
    };
    expectOk(usage, u(1000, 2000, 6000, 300, 100), 'openai_responses');
    expectRejected(
      { ...usage, input_tokens_details: { ...usage.input_tokens_details, cache_write_tokens_details: { ttl_30m_tokens: 5000, ttl_12h_tokens: 999 } } },
      'cache_creation_mismatch',
      'usage.input_tokens_details.cache_write_tokens_details',
    );
    // A retention OpenAI adds later is a part like the others: summed, not lost and not refused.
    expectOk(
      { input_tokens: 10, input_tokens_details: { cached_tokens: 0, cache_write_tokens_details: { ttl_30m_tokens: 2, ttl_24h_tokens: 3 } }, output_tokens: 1 },
      u(5, 0, 5, 1, 0),
      'openai_responses',
    );
  });

  it('Anthropic: output_tokens_details.thinking_tokens is reasoning inside output_tokens, not another shape', () => {
    expectOk(
      {
        input_tokens: 12,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 4000,
        output_tokens: 900,
        output_tokens_details: { thinking_tokens: 700 },
        service_tier: 'standard',
      },
      u(12, 4000, 0, 900, 700),
      'anthropic',
    );
    // Without any cache key, thinking_tokens alone tells Anthropic from Responses.
    expectOk({ input_tokens: 12, output_tokens: 900, output_tokens_details: { thinking_tokens: 700 } }, u(12, 0, 0, 900, 700), 'anthropic');
    expectRejected(
      { input_tokens: 12, output_tokens: 9, output_tokens_details: { thinking_tokens: 10 }, cache_read_input_tokens: 0 },
      'reasoning_exceeds_output',
      'usage.output_tokens_details.thinking_tokens',
    );
    // A cache TTL Anthropic adds later is a part of the cache write like the others.
    expectOk(
      { input_tokens: 1, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_24h_input_tokens: 20 }, output_tokens: 1 },
      u(1, 0, 30, 1, 0),
      'anthropic',
    );
  });

  it('DashScope: a cache write reported in input_tokens_details is a cache write too, and copies must agree', () => {
    expectOk({ input_tokens: 100, output_tokens: 1, input_tokens_details: { cache_creation_input_tokens: 60, text_tokens: 100 } }, u(40, 0, 60, 1, 0), 'dashscope');
    expectRejected(
      { input_tokens: 100, output_tokens: 1, prompt_tokens_details: { cache_creation_input_tokens: 60 }, input_tokens_details: { cache_creation_input_tokens: 61 } },
      'cache_write_mismatch',
      'usage.input_tokens_details.cache_creation_input_tokens',
    );
  });

  it('DashScope multimodal: modality counts and non-token figures at top level are known, not refused', () => {
    expectOk(
      {
        input_tokens: 2000,
        output_tokens: 50,
        total_tokens: 2050,
        image_tokens: 1800,
        video_tokens: 0,
        audio_tokens: 0,
        image_count: 2,
        width: 1024,
        height: 768,
        seconds: 0,
        characters: 0,
        plugins: { search: { count: 1, strategy: 'standard' } },
        input_tokens_details: { text_tokens: 200, image_tokens: 1800 },
        output_tokens_details: { text_tokens: 50 },
      },
      u(2000, 0, 0, 50, 0),
      'dashscope',
    );
  });
});

// Each shape, with a valid object and what breaks it. The issue this answers: `{"prompt_token": 10,
// "completion_tokens": 5}` was accepted with input 0, and canonical `{"input": 10, "outptu": 5}` with output 0.
interface ShapeCase {
  readonly name: string;
  readonly format: UsageFormat;
  readonly explicit?: UsageFormat;
  readonly valid: Record<string, unknown>;
  readonly expected: CanonicalUsage;
  /** A counting key and a misspelling of it. */
  readonly misspell: readonly [string, string];
  /** A required counting key (canonical has none). */
  readonly required: string | null;
  /** A parts object of the shape, where an unknown key is ignored whatever its value. */
  readonly parts: string;
}

const SHAPE_CASES: readonly ShapeCase[] = [
  {
    name: 'canonical',
    format: 'canonical',
    valid: { input: 10, cached_input: 2, cache_write: 3, output: 5, reasoning: 1 },
    expected: u(10, 2, 3, 5, 1),
    misspell: ['output', 'outptu'],
    required: null,
    parts: '',
  },
  {
    name: 'OpenAI Chat Completions',
    format: 'openai_chat',
    valid: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 2, cache_write_tokens: 3 }, completion_tokens_details: { reasoning_tokens: 1 } },
    expected: u(5, 2, 3, 5, 1),
    misspell: ['prompt_tokens', 'prompt_token'],
    required: 'completion_tokens',
    parts: 'prompt_tokens_details',
  },
  {
    name: 'OpenAI Responses',
    format: 'openai_responses',
    valid: { input_tokens: 10, input_tokens_details: { cached_tokens: 2, cache_write_tokens: 3 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 15 },
    expected: u(5, 2, 3, 5, 1),
    misspell: ['output_tokens', 'output_token'],
    required: 'input_tokens',
    parts: 'input_tokens_details',
  },
  {
    name: 'Anthropic Messages',
    format: 'anthropic',
    valid: { input_tokens: 10, cache_read_input_tokens: 2, cache_creation_input_tokens: 3, output_tokens: 5, output_tokens_details: { thinking_tokens: 1 }, service_tier: 'standard' },
    expected: u(10, 2, 3, 5, 1),
    misspell: ['cache_read_input_tokens', 'cache_read_tokens'],
    required: 'output_tokens',
    parts: 'output_tokens_details',
  },
  {
    name: 'DashScope native',
    format: 'dashscope',
    valid: { input_tokens: 10, output_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 2, cache_creation_input_tokens: 3 }, output_tokens_details: { reasoning_tokens: 1 } },
    expected: u(5, 2, 3, 5, 1),
    misspell: ['input_tokens', 'inputs_tokens'],
    required: 'input_tokens',
    parts: 'prompt_tokens_details',
  },
  {
    name: 'DashScope OpenAI-compatible (explicit usage_format)',
    format: 'dashscope',
    explicit: 'dashscope',
    valid: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 2, cache_creation_input_tokens: 3, cache_type: 'ephemeral' }, completion_tokens_details: { reasoning_tokens: 1 } },
    expected: u(5, 2, 3, 5, 1),
    misspell: ['completion_tokens', 'completions_tokens'],
    required: 'prompt_tokens',
    parts: 'completion_tokens_details',
  },
];

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const { [key]: _dropped, ...rest } = obj;
  return rest;
}

describe.each(SHAPE_CASES)('normalizeUsage: $name', (c) => {
  it('accepts the valid object with the right counts', () => {
    expectOk(c.valid, c.expected, c.format, c.explicit);
  });

  it('refuses a misspelled counting key, naming it by its full path', () => {
    const [key, typo] = c.misspell;
    const payload = { ...without(c.valid, key), [typo]: c.valid[key] };
    expectRejected(payload, 'unknown_usage_field', `usage.${typo}`, c.explicit);
  });

  it('suggests the key a misspelled one is close to, and nothing for a key close to none', () => {
    const [key] = c.misspell;
    const misspelled = normalizeUsage({ ...without(c.valid, key), [key.slice(0, -1)]: c.valid[key] }, c.explicit);
    expect(!misspelled.ok && misspelled.message).toMatch(new RegExp(`Did you mean "usage\\.${key}"\\?$`));
    const unrelated = normalizeUsage({ ...c.valid, widget_count: 40 }, c.explicit);
    expect(!unrelated.ok && unrelated.message).not.toMatch(/Did you mean/);
  });

  it('refuses an object without a counting key', () => {
    if (c.required === null) return; // canonical: an absent count is 0 (it is our own format, nothing is misread)
    expectRejected(without(c.valid, c.required), 'missing_usage_field', `usage.${c.required}`, c.explicit);
    expectRejected({ ...c.valid, [c.required]: null }, 'missing_usage_field', `usage.${c.required}`, c.explicit);
  });

  it('refuses an unknown number at top level: it could be tokens nobody would bill', () => {
    expectRejected({ ...c.valid, tool_tokens: 40 }, 'unknown_usage_field', 'usage.tool_tokens', c.explicit);
    expectRejected({ ...c.valid, tool_tokens: 0 }, 'unknown_usage_field', 'usage.tool_tokens', c.explicit);
  });

  it('accepts an unknown non-number at top level and names it (canonical refuses it: our own format)', () => {
    const payload = { ...c.valid, region: 'eu', flags: { fast: true }, note: null };
    if (c.format === 'canonical') {
      expectRejected(payload, 'unknown_usage_field', 'usage.region');
      return;
    }
    expectOk(payload, c.expected, c.format, c.explicit, ['usage.region', 'usage.flags', 'usage.note']);
  });

  it('accepts an unknown key inside a parts object, whatever its value, and names it', () => {
    if (c.parts === '') return;
    const parts = (c.valid[c.parts] as Record<string, unknown> | undefined) ?? {};
    const payload = { ...c.valid, [c.parts]: { ...parts, sparkle_tokens: 7, mood: 'fine' } };
    expectOk(payload, c.expected, c.format, c.explicit, [`usage.${c.parts}.sparkle_tokens`, `usage.${c.parts}.mood`]);
  });

  it('refuses a total_tokens that disagrees with the parts (canonical: any total_tokens, our format has none)', () => {
    const sum = totalTokens(c.expected);
    if (c.format === 'canonical') {
      expectRejected({ ...c.valid, total_tokens: sum }, 'unknown_usage_field', 'usage.total_tokens', c.explicit);
      return;
    }
    expectOk({ ...c.valid, total_tokens: sum }, c.expected, c.format, c.explicit);
    expectRejected({ ...c.valid, total_tokens: sum + 1 }, 'total_mismatch', 'usage.total_tokens', c.explicit);
  });
});

describe('normalizeUsage: what may be ignored is bounded', () => {
  it(`names at most ${MAX_IGNORED_USAGE_FIELDS} ignored fields; more is not a provider's usage object`, () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`extra_${i}`, 'x']));
    const ok = normalizeUsage({ prompt_tokens: 1, completion_tokens: 1, ...many(MAX_IGNORED_USAGE_FIELDS) });
    expect(ok.ok && ok.ignored.length).toBe(MAX_IGNORED_USAGE_FIELDS);
    expectRejected({ prompt_tokens: 1, completion_tokens: 1, ...many(MAX_IGNORED_USAGE_FIELDS + 1) }, 'unknown_usage_field', `usage.extra_${MAX_IGNORED_USAGE_FIELDS}`);
  });

  it('refuses an unknown key that is not a field name it could list', () => {
    expectRejected({ prompt_tokens: 1, completion_tokens: 1, 'a b': 'x' }, 'unknown_usage_field', 'usage.a b');
    const long = 'k'.repeat(65);
    expectRejected({ prompt_tokens: 1, completion_tokens: 1, prompt_tokens_details: { [long]: 1 } }, 'unknown_usage_field', `usage.prompt_tokens_details.${long}`);
  });

  it('does not take keys inherited from Object.prototype for known ones', () => {
    expectOk({ prompt_tokens: 1, completion_tokens: 1, constructor: 'x' }, u(1, 0, 0, 1, 0), 'openai_chat', undefined, ['usage.constructor']);
    expectRejected({ input: 1, toString: 2 }, 'unknown_usage_field', 'usage.toString');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Properties: encode a canonical usage into each provider's own shape, normalise it back.

// Parts stay below 2^50 so that even four of them sum inside the safe integer range, as real counts do.
const tokenCount = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 2 ** 50 }));

const canonicalUsage: fc.Arbitrary<CanonicalUsage> = fc
  .record({ input: tokenCount, cached_input: tokenCount, cache_write: tokenCount, output: tokenCount })
  .chain((parts) =>
    fc.integer({ min: 0, max: parts.output }).map((reasoning) => ({ ...parts, reasoning })),
  );

// Encoding choices real payloads vary on: omitted zero fields, null details, totals, where DashScope puts
// cached_tokens, whether the cache-write breakdown is sent, which key a Chat object writes cache writes in.
interface Choices {
  readonly omitZeros: boolean;
  readonly nullDetails: boolean;
  readonly withTotal: boolean;
  readonly withBreakdown: boolean;
  readonly split: number;
  readonly cachedAt: 'prompt_details' | 'top' | 'both';
  readonly chatWriteKey: 'openai' | 'dashscope' | 'both';
}

const choices: fc.Arbitrary<Choices> = fc.record({
  omitZeros: fc.boolean(),
  nullDetails: fc.boolean(),
  withTotal: fc.boolean(),
  withBreakdown: fc.boolean(),
  split: fc.double({ min: 0, max: 1, noNaN: true }),
  cachedAt: fc.constantFrom('prompt_details' as const, 'top' as const, 'both' as const),
  chatWriteKey: fc.constantFrom('openai' as const, 'dashscope' as const, 'both' as const),
});

type Json = Record<string, unknown>;

function put(obj: Json, key: string, value: number, c: Choices): void {
  if (value !== 0 || !c.omitZeros) obj[key] = value;
}

function detailsOrNull(obj: Json, c: Choices): Json | null | undefined {
  if (Object.keys(obj).length > 0) return obj;
  return c.nullDetails ? null : undefined;
}

function breakdownOf(cacheWrite: number, c: Choices, [short, long]: readonly [string, string] = ['ephemeral_5m_input_tokens', 'ephemeral_1h_input_tokens']): Json {
  const first = Math.floor(cacheWrite * c.split);
  return { [short]: first, [long]: cacheWrite - first };
}

function withoutUndefined(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

type Encoding = 'canonical' | 'openai_chat' | 'openai_responses' | 'anthropic' | 'dashscope_compatible' | 'dashscope_native';

const ENCODINGS: readonly Encoding[] = [
  'canonical',
  'openai_chat',
  'openai_responses',
  'anthropic',
  'dashscope_compatible',
  'dashscope_native',
];

const EXPLICIT_FORMAT: Record<Encoding, UsageFormat> = {
  canonical: 'canonical',
  openai_chat: 'openai_chat',
  openai_responses: 'openai_responses',
  anthropic: 'anthropic',
  dashscope_compatible: 'dashscope',
  dashscope_native: 'dashscope',
};

/** Every provider now reports every canonical part: cache writes (OpenAI's cache_write_tokens) and reasoning (Anthropic's thinking_tokens). */
function encode(encoding: Encoding, x: CanonicalUsage, c: Choices): Json {
  const total = totalTokens(x);
  const out: Json = {};
  switch (encoding) {
    case 'canonical': {
      put(out, 'input', x.input, c);
      put(out, 'cached_input', x.cached_input, c);
      put(out, 'cache_write', x.cache_write, c);
      put(out, 'output', x.output, c);
      put(out, 'reasoning', x.reasoning, c);
      if (Object.keys(out).length === 0) out.output = 0; // an all-omitted object has no recognisable shape
      break;
    }
    case 'openai_chat':
    case 'dashscope_compatible': {
      out.prompt_tokens = x.input + x.cached_input + x.cache_write;
      out.completion_tokens = x.output;
      const prompt: Json = {};
      put(prompt, 'cached_tokens', x.cached_input, c);
      if (c.chatWriteKey !== 'dashscope') put(prompt, 'cache_write_tokens', x.cache_write, c);
      if (c.chatWriteKey !== 'openai') put(prompt, 'cache_creation_input_tokens', x.cache_write, c);
      if (c.withBreakdown && x.cache_write > 0 && c.chatWriteKey !== 'openai') prompt.cache_creation = breakdownOf(x.cache_write, c);
      const completion: Json = {};
      put(completion, 'reasoning_tokens', x.reasoning, c);
      out.prompt_tokens_details = detailsOrNull(prompt, c);
      out.completion_tokens_details = detailsOrNull(completion, c);
      break;
    }
    case 'openai_responses': {
      out.input_tokens = x.input + x.cached_input + x.cache_write;
      const input: Json = { cached_tokens: x.cached_input, cache_write_tokens: x.cache_write };
      if (c.withBreakdown) input.cache_write_tokens_details = breakdownOf(x.cache_write, c, ['ttl_30m_tokens', 'ttl_12h_tokens']);
      out.input_tokens_details = input;
      out.output_tokens = x.output;
      out.output_tokens_details = { reasoning_tokens: x.reasoning };
      break;
    }
    case 'anthropic': {
      out.input_tokens = x.input;
      put(out, 'cache_read_input_tokens', x.cached_input, c);
      if (c.withBreakdown) out.cache_creation = breakdownOf(x.cache_write, c);
      if (!c.withBreakdown || !c.omitZeros) out.cache_creation_input_tokens = x.cache_write;
      out.output_tokens = x.output;
      const output: Json = {};
      put(output, 'thinking_tokens', x.reasoning, c);
      out.output_tokens_details = detailsOrNull(output, c);
      break;
    }
    case 'dashscope_native': {
      out.input_tokens = x.input + x.cached_input + x.cache_write;
      out.output_tokens = x.output;
      const prompt: Json = {};
      if (c.cachedAt !== 'top') put(prompt, 'cached_tokens', x.cached_input, c);
      if (c.cachedAt !== 'prompt_details') put(out, 'cached_tokens', x.cached_input, c);
      put(prompt, 'cache_creation_input_tokens', x.cache_write, c);
      if (c.withBreakdown && x.cache_write > 0) prompt.cache_creation = breakdownOf(x.cache_write, c);
      out.prompt_tokens_details = detailsOrNull(prompt, c);
      const output: Json = {};
      put(output, 'reasoning_tokens', x.reasoning, c);
      out.output_tokens_details = detailsOrNull(output, c);
      break;
    }
  }
  // Canonical usage has no total (any key outside its five is refused); provider shapes carry theirs.
  if (c.withTotal && encoding !== 'canonical') out.total_tokens = total;
  return withoutUndefined(out);
}

describe('normalizeUsage: properties', () => {
  it.each(ENCODINGS)('%s: encode then normalise (explicit format) gives back the canonical usage', (encoding) => {
    fc.assert(
      fc.property(canonicalUsage, choices, (usage, c) => {
        const payload = encode(encoding, usage, c);
        expect(normalizeUsage(payload, EXPLICIT_FORMAT[encoding])).toEqual({
          ok: true,
          usage,
          format: EXPLICIT_FORMAT[encoding],
          ignored: [],
        });
      }),
      { numRuns: 300 },
    );
  });

  it.each(ENCODINGS)('%s: shape recognition yields the same counts as the explicit format', (encoding) => {
    fc.assert(
      fc.property(canonicalUsage, choices, (usage, c) => {
        const payload = encode(encoding, usage, c);
        const byShape = normalizeUsage(payload);
        const explicit = normalizeUsage(payload, EXPLICIT_FORMAT[encoding]);
        expect(byShape.ok).toBe(true);
        expect(usageOf(byShape)).toEqual(usageOf(explicit));
      }),
      { numRuns: 300 },
    );
  });

  it.each(ENCODINGS)('%s: totals are preserved (and equal the provider total_tokens)', (encoding) => {
    fc.assert(
      fc.property(canonicalUsage, choices, (usage, c) => {
        const payload = encode(encoding, { ...usage }, { ...c, withTotal: true });
        const normalized = usageOf(normalizeUsage(payload));
        expect(totalTokens(normalized)).toBe(totalTokens(usage));
        if (encoding !== 'canonical') expect(totalTokens(normalized)).toBe(payload.total_tokens);
      }),
      { numRuns: 300 },
    );
  });

  it('every result is non-negative safe integers with disjoint parts and reasoning within output', () => {
    const anyJsonUsage = fc.dictionary(
      fc.constantFrom(
        'input', 'output', 'reasoning', 'prompt_tokens', 'completion_tokens', 'input_tokens', 'output_tokens',
        'cache_read_input_tokens', 'cache_creation_input_tokens', 'cached_tokens', 'total_tokens', 'x',
      ),
      fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double(), fc.string(), fc.constant(null)),
    );
    fc.assert(
      fc.property(anyJsonUsage, fc.option(fc.constantFrom(...USAGE_FORMATS), { nil: undefined }), (payload, format) => {
        const result = normalizeUsage(payload, format);
        if (!result.ok) return;
        for (const value of Object.values(result.usage)) {
          expect(Number.isSafeInteger(value) && value >= 0).toBe(true);
        }
        expect(result.usage.reasoning).toBeLessThanOrEqual(result.usage.output);
        expect(Number.isSafeInteger(totalTokens(result.usage))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic: the same payload always yields the same answer', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ENCODINGS), canonicalUsage, choices, (encoding, usage, c) => {
        const payload = encode(encoding, usage, c);
        expect(normalizeUsage(structuredClone(payload))).toEqual(normalizeUsage(payload));
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// The law of section 1 of issue 10: for any usage object, the event is refused or its canonical total is
// the provider's own total. Objects start as real provider payloads and are then damaged the ways real
// ones are: keys misspelled, dropped, added (at top level and inside parts objects), values replaced.
// The provider's own total is read from the object as the provider meant it: a misspelled key still
// carries the tokens of the key it was meant to be, and a number no list documents may be tokens too.

const DOCUMENTED: Record<Encoding, UsageShape> = {
  canonical: CANONICAL_SHAPE,
  openai_chat: OPENAI_CHAT_SHAPE,
  dashscope_compatible: OPENAI_CHAT_SHAPE,
  openai_responses: OPENAI_RESPONSES_SHAPE,
  anthropic: ANTHROPIC_SHAPE,
  dashscope_native: DASHSCOPE_SHAPE,
};

/** The total each provider bills, read the way its documentation defines it (an independent model). */
function providerTotal(encoding: Encoding, p: Json): number {
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  let undocumented = 0;
  for (const [key, value] of Object.entries(p)) if (!Object.hasOwn(DOCUMENTED[encoding].keys, key)) undocumented += n(value);
  switch (encoding) {
    case 'canonical':
      return n(p.input) + n(p.cached_input) + n(p.cache_write) + n(p.output) + undocumented;
    case 'openai_chat':
    case 'dashscope_compatible':
      return n(p.prompt_tokens) + n(p.completion_tokens) + undocumented;
    case 'openai_responses':
    case 'dashscope_native':
      return n(p.input_tokens) + n(p.output_tokens) + undocumented;
    case 'anthropic': {
      // cache_creation holds the cache write by TTL, as ephemeral_<ttl>_input_tokens.
      const byTtl = p.cache_creation !== null && typeof p.cache_creation === 'object' ? Object.entries(p.cache_creation as Json) : [];
      const breakdown = byTtl.reduce((sum, [k, v]) => sum + (/^ephemeral_\w+_input_tokens$/.test(k) ? n(v) : 0), 0);
      const written = typeof p.cache_creation_input_tokens === 'number' ? p.cache_creation_input_tokens : breakdown;
      return n(p.input_tokens) + n(p.cache_read_input_tokens) + written + n(p.output_tokens) + undocumented;
    }
  }
}

const MISSPELLINGS: Record<string, string[]> = {
  input: ['inptu', 'inputs'],
  output: ['outptu', 'ouput'],
  cached_input: ['cache_input', 'cached_inputs'],
  cache_write: ['cache_writes', 'cached_write'],
  reasoning: ['reasonning'],
  prompt_tokens: ['prompt_token', 'promt_tokens'],
  completion_tokens: ['completion_token', 'completions_tokens'],
  input_tokens: ['input_token', 'inputs_tokens'],
  output_tokens: ['output_token', 'outputs_tokens'],
  cache_read_input_tokens: ['cache_read_tokens', 'cache_reads_input_tokens'],
  cache_creation_input_tokens: ['cache_creation_tokens', 'cache_write_input_tokens'],
  cached_tokens: ['cache_tokens'],
  total_tokens: ['totals_tokens'],
  prompt_tokens_details: ['prompt_token_details'],
  completion_tokens_details: ['completion_token_details'],
  input_tokens_details: ['input_token_details'],
  output_tokens_details: ['output_token_details'],
};

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: 0, max: 10_000 }),
  fc.integer({ min: -5, max: -1 }),
  fc.constantFrom(0.5, 'standard', '12', true, null, [], [1]),
  fc.dictionary(fc.constantFrom('cached_tokens', 'reasoning_tokens', 'thinking_tokens', 'new_tokens', 'note'), fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.string())),
);

const newKey = fc.oneof(
  fc.constantFrom(...Object.values(MISSPELLINGS).flat(), 'tool_tokens', 'service_tier', 'cost', 'iterations', 'speed', 'image_tokens'),
  fc.stringMatching(/^[a-z][a-z_]{0,12}$/),
);

type Mutation =
  | { kind: 'rename'; pick: number; to: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'addInParts'; pick: number; key: string; value: unknown }
  | { kind: 'replace'; pick: number; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), key: newKey, value: anyValue }),
  fc.record({ kind: fc.constant('addInParts' as const), pick: fc.nat(), key: newKey, value: anyValue }),
  fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: anyValue }),
);

/** The object as sent, the object as the provider meant it, and which sent key stands for which meant one. */
interface Damaged {
  readonly sent: Json;
  readonly meant: Json;
  readonly alias: Map<string, string>;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function damage(d: Damaged, m: Mutation): Damaged {
  const keys = Object.keys(d.sent);
  if (keys.length === 0 && m.kind !== 'add') return d;
  const pick = m.kind === 'add' ? m.key : keys[m.pick % keys.length]!;
  const meantKey = d.alias.get(pick) ?? pick;
  switch (m.kind) {
    case 'rename': {
      // A misspelled count. (Not `cache_creation`: a renamed breakdown is an unknown non-number, accepted
      // by the rules; it only ever holds a count cache_creation_input_tokens carries too in what Anthropic sends.)
      const to = (MISSPELLINGS[meantKey] ?? [])[m.to % Math.max(1, (MISSPELLINGS[meantKey] ?? []).length)];
      if (to === undefined || Object.hasOwn(d.sent, to)) return d;
      d.sent[to] = d.sent[pick];
      delete d.sent[pick];
      d.alias.delete(pick);
      d.alias.set(to, meantKey);
      return d;
    }
    case 'drop':
      delete d.sent[pick];
      delete d.meant[meantKey];
      d.alias.delete(pick);
      return d;
    case 'add':
    case 'replace':
      if (m.kind === 'add' && [...d.alias.values()].includes(pick)) return d; // the meant key is sent misspelled
      d.sent[pick] = structuredClone(m.value);
      d.meant[meantKey] = structuredClone(m.value);
      return d;
    case 'addInParts': {
      const parts = keys.filter((k) => isObject(d.sent[k]));
      if (parts.length === 0) return d;
      const key = parts[m.pick % parts.length]!;
      (d.sent[key] as Json)[m.key] = structuredClone(m.value);
      (d.meant[d.alias.get(key) ?? key] as Json)[m.key] = structuredClone(m.value);
      return d;
    }
  }
}

function encodingOf(format: UsageFormat, sent: Json): Encoding {
  if (format !== 'dashscope') return format;
  return sent.prompt_tokens != null || sent.completion_tokens != null ? 'dashscope_compatible' : 'dashscope_native';
}

describe('normalizeUsage: no token billed as zero', () => {
  it('for any provider-shaped usage object, the event is refused or its canonical total is the provider\'s own total', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...ENCODINGS),
        canonicalUsage,
        choices,
        fc.array(mutation, { minLength: 0, maxLength: 3 }),
        fc.boolean(),
        (encoding, usage, c, mutations, explicit) => {
          const payload = encode(encoding, usage, c);
          const { sent, meant } = mutations.reduce(damage, { sent: payload, meant: structuredClone(payload), alias: new Map<string, string>() });
          const result = normalizeUsage(sent, explicit ? EXPLICIT_FORMAT[encoding] : undefined);
          if (!result.ok) {
            refused += 1;
            return;
          }
          accepted += 1;
          // Damage can make an object another provider's (`speed` is Anthropic's): read it as the one it is.
          const read = explicit ? encoding : encodingOf(result.format, sent);
          expect(totalTokens(result.usage)).toBe(providerTotal(read, meant));
          if (typeof sent.total_tokens === 'number') expect(totalTokens(result.usage)).toBe(sent.total_tokens);
        },
      ),
      { numRuns: 3000 },
    );
    // Both sides of the law were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(300);
  });
});
