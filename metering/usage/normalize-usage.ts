// Owns the translation of a token event's `usage` (canonical or a provider's own object) into canonical,
// non-overlapping token counts, with the shape-recognition order and every rejection code.

export const USAGE_FORMATS = [
  'canonical',
  'openai_chat',
  'openai_responses',
  'anthropic',
  'dashscope',
] as const;

export type UsageFormat = (typeof USAGE_FORMATS)[number];

export interface CanonicalUsage {
  readonly input: number;
  readonly cached_input: number;
  readonly cache_write: number;
  readonly output: number;
  readonly reasoning: number;
}

export const USAGE_ERROR_CODES = [
  'usage_not_object',
  'unknown_usage_format',
  'unknown_shape',
  'ambiguous_shape',
  'shape_mismatch',
  'not_an_object',
  'not_a_number',
  'not_finite',
  'negative',
  'fractional',
  'unsafe_integer',
  'cached_exceeds_input',
  'reasoning_exceeds_output',
  'cache_creation_mismatch',
  'cached_tokens_mismatch',
  'total_mismatch',
] as const;

export type UsageErrorCode = (typeof USAGE_ERROR_CODES)[number];

export type NormalizeUsageResult =
  | { readonly ok: true; readonly usage: CanonicalUsage; readonly format: UsageFormat }
  | { readonly ok: false; readonly code: UsageErrorCode; readonly field: string; readonly message: string };

export const ZERO_USAGE: CanonicalUsage = Object.freeze({
  input: 0,
  cached_input: 0,
  cache_write: 0,
  output: 0,
  reasoning: 0,
});

/** Every token the request consumed, each counted once: reasoning is inside output, so it is not added. */
export function totalTokens(usage: CanonicalUsage): number {
  return usage.input + usage.cached_input + usage.cache_write + usage.output;
}

export function isUsageFormat(value: unknown): value is UsageFormat {
  return typeof value === 'string' && (USAGE_FORMATS as readonly string[]).includes(value);
}

/**
 * Normalises `usage` into canonical counts. `usageFormat` (the event's `usage_format`) skips shape
 * recognition; absent, null or undefined means "recognise by shape".
 */
export function normalizeUsage(usage: unknown, usageFormat?: string | null): NormalizeUsageResult {
  try {
    if (usageFormat !== undefined && usageFormat !== null && !isUsageFormat(usageFormat)) {
      throw new Rejection(
        'unknown_usage_format',
        'usage_format',
        `usage_format must be one of ${USAGE_FORMATS.join(', ')}; got ${describe(usageFormat)}`,
      );
    }
    if (!isRecord(usage)) {
      throw new Rejection('usage_not_object', 'usage', `usage must be a JSON object; got ${describe(usage)}`);
    }
    const explicit = usageFormat ?? null;
    const format = explicit ?? detectShape(usage);
    const parsed = parse(format, usage, explicit !== null);
    return { ok: true, usage: checkTotalIsSafe(parsed), format };
  } catch (error) {
    if (error instanceof Rejection) {
      return { ok: false, code: error.code, field: error.field, message: error.message };
    }
    throw error;
  }
}

// A thrown rejection keeps each format's parser a straight line of reads; only normalizeUsage catches it.
class Rejection extends Error {
  constructor(
    readonly code: UsageErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

const CANONICAL_KEYS = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
const CHAT_KEYS = ['prompt_tokens', 'completion_tokens', 'prompt_tokens_details', 'completion_tokens_details'];
const IO_KEYS = ['input_tokens', 'output_tokens'];
const ANTHROPIC_CACHE_KEYS = ['cache_read_input_tokens', 'cache_creation_input_tokens', 'cache_creation'];
const RESPONSES_DETAIL_KEYS = ['input_tokens_details', 'output_tokens_details'];

// What each parser reads at top level; a key from another format's list means the payload mixes shapes.
const ALLOWED_KEYS: Record<'canonical' | 'openai_chat' | 'openai_responses' | 'anthropic' | 'dashscope_native', readonly string[]> = {
  canonical: [...CANONICAL_KEYS, 'total_tokens'],
  openai_chat: [...CHAT_KEYS, 'total_tokens'],
  openai_responses: [...IO_KEYS, ...RESPONSES_DETAIL_KEYS, 'total_tokens'],
  anthropic: [...IO_KEYS, ...ANTHROPIC_CACHE_KEYS, 'total_tokens'],
  dashscope_native: [
    ...IO_KEYS,
    'prompt_tokens_details',
    'output_tokens_details',
    'input_tokens_details',
    'cached_tokens',
    'total_tokens',
  ],
};

const TOKEN_VOCABULARY: ReadonlySet<string> = new Set(Object.values(ALLOWED_KEYS).flat());

// Shape recognition when no `usage_format` is given (first rule that matches wins):
//   1. any canonical key (`input`, `cached_input`, `cache_write`, `output`, `reasoning`)      => canonical
//   2. `cache_read_input_tokens`, `cache_creation_input_tokens` or `cache_creation` at top level => anthropic
//   3. `prompt_tokens` or `completion_tokens`                        => openai_chat (DashScope compatible too)
//   4. `input_tokens`/`output_tokens` with top-level `cached_tokens` or `prompt_tokens_details` => dashscope
//   5. `input_tokens`/`output_tokens` with `input_tokens_details` or `output_tokens_details` => openai_responses
//   6. `input_tokens`/`output_tokens` alone => anthropic. With nothing cached, Anthropic, Responses and
//      DashScope-native count exactly the same, so the label is the only thing this choice decides.
//   otherwise unknown_shape. A recognised shape that also carries another format's token keys (say
//   `prompt_tokens` next to `cache_read_input_tokens`) is rejected as ambiguous_shape: we cannot know which
//   numbers overlap, and guessing could count a token twice. Keys outside every format's vocabulary
//   (`service_tier`, `server_tool_use`, `plugins`, `x_details`, ...) are ignored, as are unrecognised fields
//   inside the *_details objects: those are breakdowns of totals we already count, so ignoring them can never
//   lose or duplicate a token (at worst a subset is priced at the plain input rate).
//   `null` counts as absent everywhere, because OpenAI and DashScope send `"completion_tokens_details": null`.
function detectShape(u: Json): UsageFormat {
  const hasAny = (keys: readonly string[]): boolean => keys.some((k) => present(u, k));
  if (hasAny(CANONICAL_KEYS)) return 'canonical';
  if (hasAny(ANTHROPIC_CACHE_KEYS)) return 'anthropic';
  if (hasAny(['prompt_tokens', 'completion_tokens'])) return 'openai_chat';
  if (hasAny(IO_KEYS)) {
    if (hasAny(['cached_tokens', 'prompt_tokens_details'])) return 'dashscope';
    if (hasAny(RESPONSES_DETAIL_KEYS)) return 'openai_responses';
    return 'anthropic';
  }
  throw new Rejection(
    'unknown_shape',
    'usage',
    'usage matches no known shape: expected canonical fields (input, output, ...) or a provider usage object ' +
      '(prompt_tokens/completion_tokens, or input_tokens/output_tokens)',
  );
}

// Canonical usage: `input` (uncached), `cached_input` (cache reads), `cache_write` are disjoint parts of the
// request's input; `reasoning` is a part of `output`. totalTokens() therefore never counts a token twice.
//
// Provider semantics (what each reported number contains):
// - openai_chat (also DashScope OpenAI-compatible mode): `prompt_tokens` INCLUDES
//   `prompt_tokens_details.cached_tokens` and, on DashScope explicit cache, `prompt_tokens_details
//   .cache_creation_input_tokens`; `completion_tokens` includes `completion_tokens_details.reasoning_tokens`.
// - openai_responses: `input_tokens` includes `input_tokens_details.cached_tokens`; `output_tokens` includes
//   `output_tokens_details.reasoning_tokens`.
// - anthropic: `input_tokens` EXCLUDES `cache_read_input_tokens` and `cache_creation_input_tokens`; the
//   `cache_creation` object is a per-TTL breakdown of `cache_creation_input_tokens`, never added to it.
//   Anthropic does not report thinking tokens separately (they are billed inside `output_tokens`), so
//   reasoning is 0.
// - dashscope native: `input_tokens` INCLUDES cached tokens, reported in `prompt_tokens_details.cached_tokens`
//   or, for some models and regions, top-level `cached_tokens` (Alibaba Cloud Model Studio "Context cache"
//   docs); explicit-cache writes in `prompt_tokens_details.cache_creation_input_tokens` are also inside
//   `input_tokens` (docs: uncached = prompt - created - hit); `output_tokens_details.reasoning_tokens` is part
//   of `output_tokens`. `input_tokens_details` there is a modality breakdown (text/image), not a cache figure.
function parse(format: UsageFormat, u: Json, explicit: boolean): CanonicalUsage {
  switch (format) {
    case 'canonical':
      return parseCanonical(u, explicit);
    case 'openai_chat':
      return parseChat(u, explicit, format);
    case 'openai_responses':
      return parseResponses(u, explicit);
    case 'anthropic':
      return parseAnthropic(u, explicit);
    case 'dashscope':
      // Compatible mode reuses the Chat Completions shape; native mode speaks input/output tokens.
      return present(u, 'prompt_tokens') || present(u, 'completion_tokens')
        ? parseChat(u, explicit, format)
        : parseDashScopeNative(u, explicit);
  }
}

function parseCanonical(u: Json, explicit: boolean): CanonicalUsage {
  rejectForeignKeys(u, 'canonical', 'canonical', explicit);
  const usage: CanonicalUsage = {
    input: count(u, 'input', ''),
    cached_input: count(u, 'cached_input', ''),
    cache_write: count(u, 'cache_write', ''),
    output: count(u, 'output', ''),
    reasoning: count(u, 'reasoning', ''),
  };
  requireReasoningWithinOutput(usage.reasoning, usage.output, 'reasoning', 'output');
  requireTotal(u, totalTokens(usage), 'input + cached_input + cache_write + output');
  return usage;
}

function parseChat(u: Json, explicit: boolean, label: UsageFormat): CanonicalUsage {
  rejectForeignKeys(u, 'openai_chat', label, explicit);
  const prompt = count(u, 'prompt_tokens', '');
  const completion = count(u, 'completion_tokens', '');
  const promptDetails = details(u, 'prompt_tokens_details', '');
  const cached = count(promptDetails, 'cached_tokens', 'prompt_tokens_details.');
  const written = cacheCreation(promptDetails, 'cache_creation_input_tokens', 'prompt_tokens_details.');
  const completionDetails = details(u, 'completion_tokens_details', '');
  const reasoning = count(completionDetails, 'reasoning_tokens', 'completion_tokens_details.');
  requireCachedWithinInput(cached, written, prompt, 'prompt_tokens', 'prompt_tokens_details');
  requireReasoningWithinOutput(
    reasoning,
    completion,
    'completion_tokens_details.reasoning_tokens',
    'completion_tokens',
  );
  requireTotal(u, prompt + completion, 'prompt_tokens + completion_tokens');
  return { input: prompt - cached - written, cached_input: cached, cache_write: written, output: completion, reasoning };
}

function parseResponses(u: Json, explicit: boolean): CanonicalUsage {
  rejectForeignKeys(u, 'openai_responses', 'openai_responses', explicit);
  const input = count(u, 'input_tokens', '');
  const output = count(u, 'output_tokens', '');
  const cached = count(details(u, 'input_tokens_details', ''), 'cached_tokens', 'input_tokens_details.');
  const reasoning = count(details(u, 'output_tokens_details', ''), 'reasoning_tokens', 'output_tokens_details.');
  requireCachedWithinInput(cached, 0, input, 'input_tokens', 'input_tokens_details');
  requireReasoningWithinOutput(reasoning, output, 'output_tokens_details.reasoning_tokens', 'output_tokens');
  requireTotal(u, input + output, 'input_tokens + output_tokens');
  return { input: input - cached, cached_input: cached, cache_write: 0, output, reasoning };
}

function parseAnthropic(u: Json, explicit: boolean): CanonicalUsage {
  rejectForeignKeys(u, 'anthropic', 'anthropic', explicit);
  const usage: CanonicalUsage = {
    input: count(u, 'input_tokens', ''),
    cached_input: count(u, 'cache_read_input_tokens', ''),
    cache_write: cacheCreation(u, 'cache_creation_input_tokens', ''),
    output: count(u, 'output_tokens', ''),
    reasoning: 0,
  };
  // Anthropic sends no total; one supplied by a relay must agree with the disjoint parts.
  requireTotal(
    u,
    totalTokens(usage),
    'input_tokens + cache_read_input_tokens + cache_creation_input_tokens + output_tokens',
  );
  return usage;
}

function parseDashScopeNative(u: Json, explicit: boolean): CanonicalUsage {
  rejectForeignKeys(u, 'dashscope_native', 'dashscope', explicit);
  const input = count(u, 'input_tokens', '');
  const output = count(u, 'output_tokens', '');
  const promptDetails = details(u, 'prompt_tokens_details', '');
  const inputDetails = details(u, 'input_tokens_details', '');
  const cached = agreeingCachedTokens([
    [promptDetails, 'prompt_tokens_details.'],
    [u, ''],
    [inputDetails, 'input_tokens_details.'],
  ]);
  const written = cacheCreation(promptDetails, 'cache_creation_input_tokens', 'prompt_tokens_details.');
  const reasoning = count(details(u, 'output_tokens_details', ''), 'reasoning_tokens', 'output_tokens_details.');
  requireCachedWithinInput(cached, written, input, 'input_tokens', 'prompt_tokens_details');
  requireReasoningWithinOutput(reasoning, output, 'output_tokens_details.reasoning_tokens', 'output_tokens');
  requireTotal(u, input + output, 'input_tokens + output_tokens');
  return { input: input - cached - written, cached_input: cached, cache_write: written, output, reasoning };
}

// DashScope moves cached_tokens between locations by model and region; several copies must agree, and
// agreeing copies are the same tokens, so they are taken once.
function agreeingCachedTokens(sources: ReadonlyArray<readonly [Json | undefined, string]>): number {
  let found: { value: number; field: string } | undefined;
  for (const [obj, prefix] of sources) {
    if (obj === undefined || !present(obj, 'cached_tokens')) continue;
    const value = count(obj, 'cached_tokens', prefix);
    const field = `${prefix}cached_tokens`;
    if (found === undefined) found = { value, field };
    else if (found.value !== value) {
      throw new Rejection(
        'cached_tokens_mismatch',
        field,
        `${field} (${value}) disagrees with ${found.field} (${found.value})`,
      );
    }
  }
  return found?.value ?? 0;
}

// `cache_creation` breaks the cache-write count down by TTL; it is the same tokens again, so it only fills
// in a missing total and otherwise must agree with it.
function cacheCreation(obj: Json | undefined, key: string, prefix: string): number {
  if (obj === undefined) return 0;
  const breakdown = details(obj, 'cache_creation', prefix);
  const total = present(obj, key) ? count(obj, key, prefix) : undefined;
  if (breakdown === undefined) return total ?? 0;
  const fields = Object.keys(breakdown)
    .filter((k) => /^ephemeral_\w+_input_tokens$/.test(k) && present(breakdown, k))
    .sort();
  // A breakdown with no per-TTL figure says nothing about the count, so it cannot contradict it.
  if (fields.length === 0) return total ?? 0;
  let sum = 0;
  for (const field of fields) sum += count(breakdown, field, `${prefix}cache_creation.`);
  if (!Number.isSafeInteger(sum)) {
    throw new Rejection('unsafe_integer', `${prefix}cache_creation`, `${prefix}cache_creation sums past 2^53 - 1`);
  }
  if (total === undefined) return sum;
  if (sum !== total) {
    throw new Rejection(
      'cache_creation_mismatch',
      `${prefix}cache_creation`,
      `${prefix}cache_creation breakdown sums to ${sum} but ${prefix}${key} is ${total}`,
    );
  }
  return total;
}

function rejectForeignKeys(
  u: Json,
  vocabulary: keyof typeof ALLOWED_KEYS,
  label: UsageFormat,
  explicit: boolean,
): void {
  const allowed = ALLOWED_KEYS[vocabulary];
  const foreign = Object.keys(u)
    .filter((k) => TOKEN_VOCABULARY.has(k) && !allowed.includes(k) && present(u, k))
    .sort();
  if (foreign.length === 0) return;
  const keys = foreign.join(', ');
  if (explicit) {
    throw new Rejection(
      'shape_mismatch',
      foreign[0],
      `usage_format is ${label} but usage also carries ${keys}, which ${label} does not report`,
    );
  }
  throw new Rejection(
    'ambiguous_shape',
    foreign[0],
    `usage looks like ${label} but also carries ${keys}; mixed shapes could count tokens twice. ` +
      'Send one provider usage object, or set usage_format',
  );
}

function requireCachedWithinInput(
  cached: number,
  written: number,
  input: number,
  inputField: string,
  detailsField: string,
): void {
  if (cached + written <= input) return;
  const parts = written > 0 ? `cached (${cached}) + cache creation (${written})` : `cached tokens (${cached})`;
  throw new Rejection(
    'cached_exceeds_input',
    cached > input || written === 0 ? `${detailsField}.cached_tokens` : `${detailsField}.cache_creation_input_tokens`,
    `${parts} exceed ${inputField} (${input}), which includes them`,
  );
}

function requireReasoningWithinOutput(reasoning: number, output: number, field: string, outputField: string): void {
  if (reasoning <= output) return;
  throw new Rejection(
    'reasoning_exceeds_output',
    field,
    `${field} (${reasoning}) exceeds ${outputField} (${output}); reasoning is a part of output`,
  );
}

function requireTotal(u: Json, expected: number, formula: string): void {
  if (!present(u, 'total_tokens')) return;
  const total = count(u, 'total_tokens', '');
  if (!Number.isSafeInteger(expected)) {
    throw new Rejection('unsafe_integer', 'usage', 'the token parts sum past 2^53 - 1 (Number.MAX_SAFE_INTEGER)');
  }
  if (total !== expected) {
    throw new Rejection('total_mismatch', 'total_tokens', `total_tokens is ${total} but ${formula} is ${expected}`);
  }
}

function checkTotalIsSafe(usage: CanonicalUsage): CanonicalUsage {
  if (!Number.isSafeInteger(totalTokens(usage))) {
    throw new Rejection('unsafe_integer', 'usage', 'the token parts sum past 2^53 - 1 (Number.MAX_SAFE_INTEGER)');
  }
  return usage;
}

function count(obj: Json | undefined, key: string, prefix: string): number {
  if (obj === undefined || !present(obj, key)) return 0;
  const value = obj[key];
  const field = `${prefix}${key}`;
  if (typeof value !== 'number') {
    throw new Rejection('not_a_number', field, `${field} must be a JSON number; got ${describe(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new Rejection('not_finite', field, `${field} must be a finite number; got ${String(value)}`);
  }
  if (value < 0) throw new Rejection('negative', field, `${field} must not be negative; got ${value}`);
  if (!Number.isInteger(value)) {
    throw new Rejection('fractional', field, `${field} must be a whole number of tokens; got ${value}`);
  }
  if (!Number.isSafeInteger(value)) {
    throw new Rejection('unsafe_integer', field, `${field} exceeds 2^53 - 1 (Number.MAX_SAFE_INTEGER); got ${value}`);
  }
  return value + 0; // folds -0 into 0 so stored usage never carries a negative zero
}

function details(obj: Json, key: string, prefix: string): Json | undefined {
  if (!present(obj, key)) return undefined;
  const value = obj[key];
  if (!isRecord(value)) {
    const field = `${prefix}${key}`;
    throw new Rejection('not_an_object', field, `${field} must be an object or null; got ${describe(value)}`);
  }
  return value;
}

function present(obj: Json, key: string): boolean {
  return Object.hasOwn(obj, key) && obj[key] !== undefined && obj[key] !== null;
}

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}
