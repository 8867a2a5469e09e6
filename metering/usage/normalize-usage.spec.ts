// Specifies usage normalisation: real provider payloads, every rejection code, and round-trip properties
// (canonical -> provider shape -> canonical) that prove no token is lost or counted twice.
import fc from 'fast-check';
import {
  normalizeUsage,
  totalTokens,
  USAGE_FORMATS,
  type CanonicalUsage,
  type NormalizeUsageResult,
  type UsageErrorCode,
  type UsageFormat,
} from './normalize-usage.js';

function usageOf(result: NormalizeUsageResult): CanonicalUsage {
  if (!result.ok) throw new Error(`expected ok, got ${result.code} at ${result.field}: ${result.message}`);
  return result.usage;
}

function expectOk(payload: unknown, usage: CanonicalUsage, format: UsageFormat, explicit?: UsageFormat): void {
  const result = normalizeUsage(payload, explicit);
  expect(result).toEqual({ ok: true, usage, format });
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

  it('canonical usage, missing fields are 0, total_tokens checked when present', () => {
    expectOk({ input: 100, cached_input: 900, output: 50, reasoning: 20 }, u(100, 900, 0, 50, 20), 'canonical');
    expectOk({ output: 1 }, u(0, 0, 0, 1, 0), 'canonical');
    expectOk({ input: 1, cache_write: 2, output: 3, total_tokens: 6 }, u(1, 0, 2, 3, 0), 'canonical');
    expectOk({}, u(0, 0, 0, 0, 0), 'canonical', 'canonical');
  });

  it('ignores keys outside every vocabulary and folds -0 into 0', () => {
    const result = usageOf(normalizeUsage({ input: -0, output: 2, note: 'x' }));
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
    expectRejected({ input: -1 }, 'negative', 'input');
    expectRejected({ prompt_tokens: -3, completion_tokens: 1 }, 'negative', 'prompt_tokens');
    expectRejected({ input: 1.5 }, 'fractional', 'input');
    expectRejected({ input_tokens: 10, output_tokens: 2.25 }, 'fractional', 'output_tokens');
    expectRejected({ input: Number.NaN }, 'not_finite', 'input');
    expectRejected({ output: Number.POSITIVE_INFINITY }, 'not_finite', 'output');
    expectRejected({ prompt_tokens: '12', completion_tokens: 1 }, 'not_a_number', 'prompt_tokens');
    expectRejected({ input: true }, 'not_a_number', 'input');
    expectRejected({ input: Number.MAX_SAFE_INTEGER + 1 }, 'unsafe_integer', 'input');
    expectRejected(
      { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: '4' } },
      'not_a_number',
      'prompt_tokens_details.cached_tokens',
    );
    expectRejected(
      { input_tokens: 10, output_tokens: 4, output_tokens_details: { reasoning_tokens: -1 } },
      'negative',
      'output_tokens_details.reasoning_tokens',
    );
  });

  it('rejects parts that sum past the safe integer range', () => {
    expectRejected({ input: Number.MAX_SAFE_INTEGER, output: 1 }, 'unsafe_integer', 'usage');
  });

  it('rejects details that are not objects', () => {
    expectRejected({ prompt_tokens: 1, prompt_tokens_details: 5 }, 'not_an_object', 'prompt_tokens_details');
    expectRejected({ input_tokens: 1, cache_creation: [] }, 'not_an_object', 'cache_creation');
  });

  it('rejects cached tokens above the prompt that includes them', () => {
    expectRejected(
      { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 101 } },
      'cached_exceeds_input',
      'prompt_tokens_details.cached_tokens',
    );
    expectRejected(
      { prompt_tokens: 100, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 60, cache_creation_input_tokens: 41 } },
      'cached_exceeds_input',
      'prompt_tokens_details.cache_creation_input_tokens',
    );
    expectRejected(
      { input_tokens: 5, output_tokens: 1, input_tokens_details: { cached_tokens: 6 } },
      'cached_exceeds_input',
      'input_tokens_details.cached_tokens',
    );
    expectRejected(
      { input_tokens: 5, output_tokens: 1, prompt_tokens_details: { cached_tokens: 6 } },
      'cached_exceeds_input',
      'prompt_tokens_details.cached_tokens',
    );
  });

  it('rejects reasoning above the output that includes it', () => {
    expectRejected({ output: 5, reasoning: 6 }, 'reasoning_exceeds_output', 'reasoning');
    expectRejected(
      { prompt_tokens: 1, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 6 } },
      'reasoning_exceeds_output',
      'completion_tokens_details.reasoning_tokens',
    );
    expectRejected(
      { input_tokens: 1, output_tokens: 5, output_tokens_details: { reasoning_tokens: 6 } },
      'reasoning_exceeds_output',
      'output_tokens_details.reasoning_tokens',
    );
  });

  it('rejects total_tokens inconsistent with the parts', () => {
    expectRejected({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 16 }, 'total_mismatch', 'total_tokens');
    expectRejected(
      { input_tokens: 10, output_tokens: 5, input_tokens_details: { cached_tokens: 4 }, total_tokens: 11 },
      'total_mismatch',
      'total_tokens',
    );
    // A relay adding total_tokens to Anthropic usage must count cache reads and writes once each.
    expectRejected(
      { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5, total_tokens: 15 },
      'total_mismatch',
      'total_tokens',
    );
    expectOk(
      { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 5, total_tokens: 105 },
      u(10, 90, 0, 5, 0),
      'anthropic',
    );
    expectRejected({ input: 1, output: 1, total_tokens: 3 }, 'total_mismatch', 'total_tokens');
    expectRejected({ prompt_tokens: 1, completion_tokens: 1, total_tokens: '2' }, 'not_a_number', 'total_tokens');
  });

  it('rejects a cache_creation breakdown that contradicts the cache write count', () => {
    expectRejected(
      { input_tokens: 1, cache_creation_input_tokens: 100, cache_creation: { ephemeral_5m_input_tokens: 60, ephemeral_1h_input_tokens: 60 }, output_tokens: 1 },
      'cache_creation_mismatch',
      'cache_creation',
    );
    expectRejected(
      { input_tokens: 500, output_tokens: 1, prompt_tokens_details: { cache_creation_input_tokens: 100, cache_creation: { ephemeral_5m_input_tokens: 99 } } },
      'cache_creation_mismatch',
      'prompt_tokens_details.cache_creation',
    );
  });

  it('rejects DashScope cached_tokens copies that disagree', () => {
    expectRejected(
      { input_tokens: 500, output_tokens: 1, cached_tokens: 100, prompt_tokens_details: { cached_tokens: 90 } },
      'cached_tokens_mismatch',
      'cached_tokens',
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
      'completion_tokens',
    );
    expectRejected({ input: 5, prompt_tokens: 5 }, 'ambiguous_shape', 'prompt_tokens');
    expectRejected({ prompt_tokens: 5, input_tokens: 5 }, 'ambiguous_shape', 'input_tokens');
    expectRejected(
      { input_tokens: 5, output_tokens: 1, cache_read_input_tokens: 3, cached_tokens: 3 },
      'ambiguous_shape',
      'cached_tokens',
    );
  });

  it('rejects an explicit usage_format whose shape carries another format\'s fields', () => {
    expectRejected({ prompt_tokens: 5, completion_tokens: 1 }, 'shape_mismatch', 'completion_tokens', 'anthropic');
    expectRejected({ input_tokens: 5, output_tokens: 1 }, 'shape_mismatch', 'input_tokens', 'openai_chat');
    expectRejected({ input_tokens: 5, cache_read_input_tokens: 1 }, 'shape_mismatch', 'cache_read_input_tokens', 'openai_responses');
    expectRejected({ input: 5 }, 'shape_mismatch', 'input', 'dashscope');
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
// cached_tokens, whether the cache-write breakdown is sent.
interface Choices {
  readonly omitZeros: boolean;
  readonly nullDetails: boolean;
  readonly withTotal: boolean;
  readonly withBreakdown: boolean;
  readonly split: number;
  readonly cachedAt: 'prompt_details' | 'top' | 'both';
}

const choices: fc.Arbitrary<Choices> = fc.record({
  omitZeros: fc.boolean(),
  nullDetails: fc.boolean(),
  withTotal: fc.boolean(),
  withBreakdown: fc.boolean(),
  split: fc.double({ min: 0, max: 1, noNaN: true }),
  cachedAt: fc.constantFrom('prompt_details' as const, 'top' as const, 'both' as const),
});

type Json = Record<string, unknown>;

function put(obj: Json, key: string, value: number, c: Choices): void {
  if (value !== 0 || !c.omitZeros) obj[key] = value;
}

function detailsOrNull(obj: Json, c: Choices): Json | null | undefined {
  if (Object.keys(obj).length > 0) return obj;
  return c.nullDetails ? null : undefined;
}

function breakdownOf(cacheWrite: number, c: Choices): Json {
  const fiveMinutes = Math.floor(cacheWrite * c.split);
  return { ephemeral_5m_input_tokens: fiveMinutes, ephemeral_1h_input_tokens: cacheWrite - fiveMinutes };
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

/** What a provider can express: Responses has no cache-write figure (writes are plain input to OpenAI),
 * Anthropic reports no reasoning split (thinking stays inside output). Totals are unchanged by both. */
function expressible(encoding: Encoding, usage: CanonicalUsage): CanonicalUsage {
  if (encoding === 'openai_responses') return { ...usage, input: usage.input + usage.cache_write, cache_write: 0 };
  if (encoding === 'anthropic') return { ...usage, reasoning: 0 };
  return usage;
}

function encode(encoding: Encoding, usage: CanonicalUsage, c: Choices): Json {
  const x = expressible(encoding, usage);
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
      put(prompt, 'cache_creation_input_tokens', x.cache_write, c);
      if (c.withBreakdown && x.cache_write > 0) prompt.cache_creation = breakdownOf(x.cache_write, c);
      const completion: Json = {};
      put(completion, 'reasoning_tokens', x.reasoning, c);
      out.prompt_tokens_details = detailsOrNull(prompt, c);
      out.completion_tokens_details = detailsOrNull(completion, c);
      break;
    }
    case 'openai_responses': {
      out.input_tokens = x.input + x.cached_input;
      out.input_tokens_details = { cached_tokens: x.cached_input };
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
  if (c.withTotal) out.total_tokens = total;
  return withoutUndefined(out);
}

describe('normalizeUsage: properties', () => {
  it.each(ENCODINGS)('%s: encode then normalise (explicit format) gives back the canonical usage', (encoding) => {
    fc.assert(
      fc.property(canonicalUsage, choices, (usage, c) => {
        const payload = encode(encoding, usage, c);
        const expected = expressible(encoding, usage);
        expect(normalizeUsage(payload, EXPLICIT_FORMAT[encoding])).toEqual({
          ok: true,
          usage: expected,
          format: EXPLICIT_FORMAT[encoding],
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
        expect(totalTokens(normalized)).toBe(payload.total_tokens);
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
