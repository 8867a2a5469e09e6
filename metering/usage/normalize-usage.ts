// Owns the translation of a token event's `usage` (canonical or a provider's own object) into canonical,
// non-overlapping token counts, with the shape-recognition order and every rejection code.
import { closestMatch } from 'leven';
import {
  ANTHROPIC_SHAPE,
  CANONICAL_SHAPE,
  DASHSCOPE_SHAPE,
  OPENAI_CHAT_SHAPE,
  OPENAI_RESPONSES_SHAPE,
  USAGE_SHAPES,
  type UsageKey,
  type UsageKeyList,
  type UsageKeyRole,
  type UsageShape,
} from './usage-shapes.js';

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
  'unknown_usage_field',
  'missing_usage_field',
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
  'cache_write_mismatch',
  'total_mismatch',
] as const;

export type UsageErrorCode = (typeof USAGE_ERROR_CODES)[number];

export type NormalizeUsageResult =
  | {
      readonly ok: true;
      readonly usage: CanonicalUsage;
      readonly format: UsageFormat;
      /** Fields tokenmeter does not know and did not count, as full paths (`usage.x`); usually none. */
      readonly ignored: readonly string[];
    }
  | { readonly ok: false; readonly code: UsageErrorCode; readonly field: string; readonly message: string };

export const ZERO_USAGE: CanonicalUsage = Object.freeze({
  input: 0,
  cached_input: 0,
  cache_write: 0,
  output: 0,
  reasoning: 0,
});

/** At most this many fields of one usage object are ignored and named; more is not a provider's object. */
export const MAX_IGNORED_USAGE_FIELDS = 20;

/** What an ignored field's name may look like: the provider style, short enough to list and label. */
const IGNORABLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** Every token the request consumed, each counted once: reasoning is inside output, so it is not added. */
export function totalTokens(usage: CanonicalUsage): number {
  return usage.input + usage.cached_input + usage.cache_write + usage.output;
}

export function isUsageFormat(value: unknown): value is UsageFormat {
  return typeof value === 'string' && (USAGE_FORMATS as readonly string[]).includes(value);
}

const NONE: readonly string[] = Object.freeze([]);

/**
 * Normalises `usage` into canonical counts. `usageFormat` (the event's `usage_format`) skips shape
 * recognition; absent, null or undefined means "recognise by shape". Rejections name the field by its
 * full path in the event (`usage.prompt_tokens`, `usage`, `usage_format`).
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
    const explicit = usageFormat !== undefined && usageFormat !== null;
    const format = explicit ? usageFormat : detectFormat(usage);
    const shape = shapeOf(format, usage);
    const ignored = checkKeys(usage, shape, format, explicit);
    for (const key of shape.spec.required) {
      if (!present(usage, key)) {
        throw new Rejection(
          'missing_usage_field',
          `usage.${key}`,
          `usage.${key} is required in ${shape.spec.title} usage (${shape.spec.required.join(' and ')}); got ${describe(usage[key])}`,
        );
      }
    }
    return { ok: true, usage: checkTotalIsSafe(shape.parse(usage)), format, ignored };
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

// ---------------------------------------------------------------------------------------------------------
// The key lists of usage-shapes.ts, as maps (a plain object would answer `constructor` and `__proto__`).

interface CompiledKey {
  readonly role: UsageKeyRole;
  readonly children: ReadonlyMap<string, CompiledKey> | null;
  readonly pattern: RegExp | null;
}

interface Shape {
  readonly spec: UsageShape;
  readonly keys: ReadonlyMap<string, CompiledKey>;
  readonly parse: (u: Json) => CanonicalUsage;
}

function compileKeys(keys: UsageKeyList): Map<string, CompiledKey> {
  return new Map(Object.entries(keys).map(([name, key]: [string, UsageKey]) => [
    name,
    { role: key.role, children: key.keys ? compileKeys(key.keys) : null, pattern: key.pattern ?? null },
  ]));
}

const shape = (spec: UsageShape, parse: (u: Json) => CanonicalUsage): Shape => ({ spec, keys: compileKeys(spec.keys), parse });

const CANONICAL = shape(CANONICAL_SHAPE, parseCanonical);
const CHAT = shape(OPENAI_CHAT_SHAPE, parseChat);
const RESPONSES = shape(OPENAI_RESPONSES_SHAPE, parseResponses);
const ANTHROPIC = shape(ANTHROPIC_SHAPE, parseAnthropic);
const DASHSCOPE = shape(DASHSCOPE_SHAPE, parseDashScopeNative);

/** The shapes that count input_tokens/output_tokens, in the order ties are settled. */
const INPUT_OUTPUT_SHAPES: readonly Shape[] = [ANTHROPIC, RESPONSES, DASHSCOPE];

/** Top-level keys that are token counts (or objects of them) in some shape: another shape must not carry them. */
const TOKEN_KEYS: ReadonlySet<string> = new Set(
  USAGE_SHAPES.flatMap((s) => Object.entries(s.keys).filter(([, k]) => k.role !== 'not_tokens').map(([name]) => name)),
);

/** `parent.child` for every part a shape reads (prices as cached input, cache write or reasoning). */
const PRICED_PARTS: ReadonlySet<string> = new Set(
  USAGE_SHAPES.flatMap((s) =>
    Object.entries(s.keys).flatMap(([parent, key]) => Object.entries(key.keys ?? {}).filter(([, child]) => child.to).map(([child]) => `${parent}.${child}`)),
  ),
);

function shapeOf(format: UsageFormat, u: Json): Shape {
  switch (format) {
    case 'canonical':
      return CANONICAL;
    case 'openai_chat':
      return CHAT;
    case 'openai_responses':
      return RESPONSES;
    case 'anthropic':
      return ANTHROPIC;
    case 'dashscope':
      // Compatible mode reuses the Chat Completions shape (its list names DashScope's additions); native
      // mode speaks input/output tokens.
      return present(u, 'prompt_tokens') || present(u, 'completion_tokens') ? CHAT : DASHSCOPE;
  }
}

// Shape recognition when no `usage_format` is given (first rule that matches wins):
//   1. any canonical key (`input`, `cached_input`, `cache_write`, `output`, `reasoning`)      => canonical
//   2. `prompt_tokens` or `completion_tokens`                        => openai_chat (DashScope compatible too)
//   3. `input_tokens`, `output_tokens`, `cache_read_input_tokens` or `cache_creation_input_tokens` => the one of
//      Anthropic, Responses and DashScope native whose key list knows most of the object's keys (top level
//      and inside its parts objects) without carrying another shape's token keys; ties go in that order.
//      Bare input/output tokens count exactly the same in all three, so there the label is all it decides;
//      `output_tokens_details.thinking_tokens` is Anthropic's, `cached_tokens`, `image_tokens` or
//      `prompt_tokens_details` DashScope's, `input_tokens_details.cache_write_tokens` OpenAI's.
//   otherwise unknown_shape. `null` counts as absent everywhere, because providers send
//   `"completion_tokens_details": null` and Anthropic `"cache_creation_input_tokens": null`.
function detectFormat(u: Json): UsageFormat {
  for (const key in u) {
    if (CANONICAL.keys.has(key) && present(u, key)) return 'canonical';
  }
  if (present(u, 'prompt_tokens') || present(u, 'completion_tokens')) return 'openai_chat';
  if (present(u, 'input_tokens') || present(u, 'output_tokens') || present(u, 'cache_read_input_tokens') || present(u, 'cache_creation_input_tokens')) {
    let best = ANTHROPIC;
    let bestMisfit = Number.POSITIVE_INFINITY;
    for (const candidate of INPUT_OUTPUT_SHAPES) {
      const m = misfit(u, candidate);
      if (m < bestMisfit) {
        best = candidate;
        bestMisfit = m;
      }
      if (m === 0) break; // a perfect fit, and earlier ones win ties
    }
    return best.spec.format;
  }
  throw new Rejection(
    'unknown_shape',
    'usage',
    'usage matches no known shape: expected canonical fields (input, output, ...) or a provider usage object ' +
      '(prompt_tokens/completion_tokens, or input_tokens/output_tokens)',
  );
}

/**
 * How badly `u` fits `shape`: another shape's token key, or a part another shape prices inside a parts
 * object of the same name, weighs more than any number of unknown others.
 */
function misfit(u: Json, shape: Shape): number {
  let misfits = 0;
  for (const key in u) {
    const value = u[key];
    if (value === undefined || value === null || !Object.hasOwn(u, key)) continue;
    const spec = shape.keys.get(key);
    if (spec === undefined) {
      misfits += TOKEN_KEYS.has(key) ? 1000 : 1;
    } else if (spec.children !== null && isRecord(value)) {
      for (const child in value) if (!knownChild(spec, child)) misfits += PRICED_PARTS.has(`${key}.${child}`) ? 1000 : 1;
    }
  }
  return misfits;
}

function knownChild(parent: CompiledKey, key: string): boolean {
  return parent.children!.has(key) || (parent.pattern !== null && parent.pattern.test(key));
}

// The keys of `u` against the shape's list, in one pass over the object and its parts objects (their depth
// is the list's, never the payload's). Another shape's token key means the payload mixes shapes: refused,
// since we cannot know which numbers overlap. An unknown number at top level may be tokens nobody would
// bill: refused. Any other unknown value at top level, and anything unknown inside a parts object (a
// part of a count we already take whole), cannot add tokens: accepted, and named so it is seen. Canonical
// usage is our own format: there every unknown key is refused.
function checkKeys(u: Json, shape: Shape, format: UsageFormat, explicit: boolean): readonly string[] {
  let ignored: string[] | null = null;
  let foreign: string[] | null = null;
  let unknownCount: string | null = null;
  for (const key in u) {
    const value = u[key];
    if (value === undefined || !Object.hasOwn(u, key)) continue;
    const spec = shape.keys.get(key);
    if (spec === undefined) {
      // Canonical usage is our own format: whatever else it carries is refused by name.
      if (shape === CANONICAL) unknownCount ??= key;
      else if (value !== null && TOKEN_KEYS.has(key)) (foreign ??= []).push(key);
      else if (typeof value === 'number') unknownCount ??= key;
      else ignored = ignore(ignored, 'usage.', key);
    } else if (spec.children !== null && value !== null) {
      ignored = checkParts(value, spec, `usage.${key}`, ignored);
    }
  }
  if (foreign !== null) throw mixedShapes(foreign.sort(), format, explicit);
  if (unknownCount !== null) {
    const field = `usage.${clip(unknownCount)}`;
    // A typo of one of the shape's own keys (`completion_token`) is named with the key it is close to.
    const guess = closestMatch(unknownCount, [...shape.keys.keys()], { maxDistance: Math.min(3, Math.ceil(unknownCount.length / 4)) });
    const hint = guess === undefined ? '' : `. Did you mean "usage.${guess}"?`;
    throw new Rejection(
      'unknown_usage_field',
      field,
      shape === CANONICAL
        ? `${field} is not a field of canonical usage (${[...CANONICAL.keys.keys()].join(', ')})${hint}`
        : `${field} is a number but not a field of ${shape.spec.title} usage: it could be tokens nobody would bill. ` +
          `Send the provider's usage object as it came, or canonical usage${hint}`,
    );
  }
  return ignored ?? NONE;
}

function checkParts(value: unknown, parent: CompiledKey, path: string, ignored: string[] | null): string[] | null {
  if (!isRecord(value)) {
    throw new Rejection('not_an_object', path, `${path} must be an object or null; got ${describe(value)}`);
  }
  for (const key in value) {
    const child = value[key];
    if (child === undefined || !Object.hasOwn(value, key)) continue;
    const spec = parent.children!.get(key);
    if (spec === undefined) {
      if (parent.pattern === null || !parent.pattern.test(key)) ignored = ignore(ignored, `${path}.`, key);
    } else if (spec.children !== null && child !== null) {
      ignored = checkParts(child, spec, `${path}.${key}`, ignored);
    }
  }
  return ignored;
}

function ignore(ignored: string[] | null, prefix: string, key: string): string[] {
  const field = `${prefix}${clip(key)}`;
  if (!IGNORABLE_NAME.test(key)) {
    throw new Rejection(
      'unknown_usage_field',
      field,
      `${field} is not a field tokenmeter knows, and not a name it can list as ignored (letters, digits, _ and -, at most 64)`,
    );
  }
  const list = ignored ?? [];
  if (list.length >= MAX_IGNORED_USAGE_FIELDS) {
    throw new Rejection(
      'unknown_usage_field',
      field,
      `usage carries more than ${MAX_IGNORED_USAGE_FIELDS} fields tokenmeter does not know (${field} is one): not a provider's usage object`,
    );
  }
  list.push(field);
  return list;
}

function mixedShapes(foreign: readonly string[], format: UsageFormat, explicit: boolean): Rejection {
  const keys = foreign.join(', ');
  const field = `usage.${foreign[0]}`;
  if (explicit) {
    return new Rejection('shape_mismatch', field, `usage_format is ${format} but usage also carries ${keys}, which ${format} does not report`);
  }
  return new Rejection(
    'ambiguous_shape',
    field,
    `usage looks like ${format} but also carries ${keys}; mixed shapes could count tokens twice. ` +
      'Send one provider usage object, or set usage_format',
  );
}

// ---------------------------------------------------------------------------------------------------------
// Canonical usage: `input` (uncached), `cached_input` (cache reads), `cache_write` are disjoint parts of the
// request's input; `reasoning` is a part of `output`. totalTokens() therefore never counts a token twice.
//
// Provider semantics (what each reported number contains; the key lists are in usage-shapes.ts):
// - openai_chat (also DashScope OpenAI-compatible mode): `prompt_tokens` INCLUDES
//   `prompt_tokens_details.cached_tokens` and the cache writes, `cache_write_tokens` (OpenAI) or
//   `cache_creation_input_tokens` (DashScope explicit cache; the same tokens when both are sent);
//   `completion_tokens` includes `completion_tokens_details.reasoning_tokens`.
// - openai_responses: `input_tokens` includes `input_tokens_details.cached_tokens` and `.cache_write_tokens`;
//   `output_tokens` includes `output_tokens_details.reasoning_tokens`.
// - anthropic: `input_tokens` EXCLUDES `cache_read_input_tokens` and `cache_creation_input_tokens`; the
//   `cache_creation` object is a per-TTL breakdown of `cache_creation_input_tokens`, never added to it.
//   `output_tokens` includes `output_tokens_details.thinking_tokens` (reasoning).
// - dashscope native: `input_tokens` INCLUDES cached tokens, reported in `prompt_tokens_details.cached_tokens`,
//   `input_tokens_details.cached_tokens` or, for some models and regions, top-level `cached_tokens` (Alibaba
//   Cloud Model Studio "Context cache" docs); explicit-cache writes in `*.cache_creation_input_tokens` are
//   also inside `input_tokens` (docs: uncached = prompt - created - hit); `output_tokens_details
//   .reasoning_tokens` is part of `output_tokens`.

function parseCanonical(u: Json): CanonicalUsage {
  const usage: CanonicalUsage = {
    input: count(u, 'input', 'usage.'),
    cached_input: count(u, 'cached_input', 'usage.'),
    cache_write: count(u, 'cache_write', 'usage.'),
    output: count(u, 'output', 'usage.'),
    reasoning: count(u, 'reasoning', 'usage.'),
  };
  requireReasoningWithinOutput(usage.reasoning, usage.output, 'usage.reasoning', 'usage.output');
  return usage;
}

function parseChat(u: Json): CanonicalUsage {
  const p = 'usage.prompt_tokens_details.';
  const promptDetails = details(u, 'prompt_tokens_details', 'usage.');
  return inclusive(u, 'prompt_tokens', 'completion_tokens', {
    parts: promptDetails,
    partsField: 'usage.prompt_tokens_details',
    cached: count(promptDetails, 'cached_tokens', p),
    written: agreeing('cache_write_mismatch', [
      [optional(promptDetails, 'cache_write_tokens', p), `${p}cache_write_tokens`],
      [withBreakdown(promptDetails, 'cache_creation_input_tokens', 'cache_creation', p), `${p}cache_creation_input_tokens`],
    ]),
    reasoning: count(details(u, 'completion_tokens_details', 'usage.'), 'reasoning_tokens', 'usage.completion_tokens_details.'),
    reasoningField: 'usage.completion_tokens_details.reasoning_tokens',
  });
}

function parseResponses(u: Json): CanonicalUsage {
  const p = 'usage.input_tokens_details.';
  const inputDetails = details(u, 'input_tokens_details', 'usage.');
  return inclusive(u, 'input_tokens', 'output_tokens', {
    parts: inputDetails,
    partsField: 'usage.input_tokens_details',
    cached: count(inputDetails, 'cached_tokens', p),
    written: withBreakdown(inputDetails, 'cache_write_tokens', 'cache_write_tokens_details', p) ?? 0,
    reasoning: count(details(u, 'output_tokens_details', 'usage.'), 'reasoning_tokens', 'usage.output_tokens_details.'),
    reasoningField: 'usage.output_tokens_details.reasoning_tokens',
  });
}

function parseAnthropic(u: Json): CanonicalUsage {
  const usage: CanonicalUsage = {
    input: count(u, 'input_tokens', 'usage.'),
    cached_input: count(u, 'cache_read_input_tokens', 'usage.'),
    cache_write: withBreakdown(u, 'cache_creation_input_tokens', 'cache_creation', 'usage.') ?? 0,
    output: count(u, 'output_tokens', 'usage.'),
    reasoning: count(details(u, 'output_tokens_details', 'usage.'), 'thinking_tokens', 'usage.output_tokens_details.'),
  };
  requireReasoningWithinOutput(usage.reasoning, usage.output, 'usage.output_tokens_details.thinking_tokens', 'usage.output_tokens');
  // Anthropic sends no total; one supplied by a relay must agree with the disjoint parts.
  requireTotal(
    u,
    totalTokens(usage),
    'input_tokens + cache_read_input_tokens + cache_creation_input_tokens + output_tokens',
  );
  return usage;
}

function parseDashScopeNative(u: Json): CanonicalUsage {
  const p = 'usage.prompt_tokens_details.';
  const i = 'usage.input_tokens_details.';
  const promptDetails = details(u, 'prompt_tokens_details', 'usage.');
  const inputDetails = details(u, 'input_tokens_details', 'usage.');
  // DashScope moves these between locations by model and region; copies must agree and are taken once.
  return inclusive(u, 'input_tokens', 'output_tokens', {
    parts: promptDetails,
    partsField: 'usage.prompt_tokens_details',
    cached: agreeing('cached_tokens_mismatch', [
      [optional(promptDetails, 'cached_tokens', p), `${p}cached_tokens`],
      [optional(u, 'cached_tokens', 'usage.'), 'usage.cached_tokens'],
      [optional(inputDetails, 'cached_tokens', i), `${i}cached_tokens`],
    ]),
    written: agreeing('cache_write_mismatch', [
      [withBreakdown(promptDetails, 'cache_creation_input_tokens', 'cache_creation', p), `${p}cache_creation_input_tokens`],
      [optional(inputDetails, 'cache_creation_input_tokens', i), `${i}cache_creation_input_tokens`],
    ]),
    reasoning: count(details(u, 'output_tokens_details', 'usage.'), 'reasoning_tokens', 'usage.output_tokens_details.'),
    reasoningField: 'usage.output_tokens_details.reasoning_tokens',
  });
}

/** The parts an inclusive input and output count were read with. */
interface InclusiveParts {
  /** The parts object the cache figures came from (for the field a rejection names), and its path. */
  readonly parts: Json | undefined;
  readonly partsField: string;
  readonly cached: number;
  readonly written: number;
  readonly reasoning: number;
  readonly reasoningField: string;
}

/** OpenAI and DashScope count cache reads and writes inside input: the plain input is what is left of it. */
function inclusive(u: Json, inputKey: string, outputKey: string, x: InclusiveParts): CanonicalUsage {
  const input = count(u, inputKey, 'usage.');
  const output = count(u, outputKey, 'usage.');
  requireCachedWithinInput(x.cached, x.written, input, `usage.${inputKey}`, x.partsField, x.parts);
  requireReasoningWithinOutput(x.reasoning, output, x.reasoningField, `usage.${outputKey}`);
  requireTotal(u, input + output, `${inputKey} + ${outputKey}`);
  return { input: input - x.cached - x.written, cached_input: x.cached, cache_write: x.written, output, reasoning: x.reasoning };
}

/** Copies of one count from several places: the first present one, after checking the others equal it. */
function agreeing(code: UsageErrorCode, copies: ReadonlyArray<readonly [number | undefined, string]>): number {
  let found: { value: number; field: string } | undefined;
  for (const [value, field] of copies) {
    if (value === undefined) continue;
    if (found === undefined) found = { value, field };
    else if (found.value !== value) {
      throw new Rejection(code, field, `${field} (${value}) disagrees with ${found.field} (${found.value}); they are the same tokens`);
    }
  }
  return found?.value ?? 0;
}

// A breakdown (`cache_creation` by TTL, `cache_write_tokens_details` by retention) is the same tokens as its
// count again: it only fills in a missing count and otherwise must agree with it. Its parts are the keys the
// list's pattern matches, so a TTL a provider adds later is counted, not lost.
function withBreakdown(obj: Json | undefined, key: string, breakdownKey: string, prefix: string): number | undefined {
  if (obj === undefined) return undefined;
  const total = optional(obj, key, prefix);
  const breakdown = details(obj, breakdownKey, prefix);
  if (breakdown === undefined) return total;
  const pattern = BREAKDOWN_PATTERNS.get(breakdownKey)!;
  const path = `${prefix}${breakdownKey}`;
  let sum: number | undefined;
  for (const field in breakdown) {
    if (!pattern.test(field) || !present(breakdown, field)) continue;
    sum = (sum ?? 0) + count(breakdown, field, `${path}.`);
  }
  // A breakdown with no per-TTL figure says nothing about the count, so it cannot contradict it.
  if (sum === undefined) return total;
  if (!Number.isSafeInteger(sum)) throw new Rejection('unsafe_integer', path, `${path} sums past 2^53 - 1`);
  if (total === undefined) return sum;
  if (sum !== total) {
    throw new Rejection('cache_creation_mismatch', path, `${path} breakdown sums to ${sum} but ${prefix}${key} is ${total}`);
  }
  return total;
}

/** The per-TTL pattern of each breakdown object, from the key lists. */
const BREAKDOWN_PATTERNS: ReadonlyMap<string, RegExp> = (() => {
  const patterns = new Map<string, RegExp>();
  const walk = (keys: UsageKeyList) => {
    for (const [name, key] of Object.entries(keys)) {
      if (key.pattern) patterns.set(name, key.pattern);
      if (key.keys) walk(key.keys);
    }
  };
  for (const s of USAGE_SHAPES) walk(s.keys);
  return patterns;
})();

function requireCachedWithinInput(
  cached: number,
  written: number,
  input: number,
  inputField: string,
  detailsField: string,
  detailsObj: Json | undefined,
): void {
  if (cached + written <= input) return;
  const parts = written > 0 ? `cached (${cached}) + cache writes (${written})` : `cached tokens (${cached})`;
  const writeKey = detailsObj !== undefined && present(detailsObj, 'cache_write_tokens') ? 'cache_write_tokens' : 'cache_creation_input_tokens';
  throw new Rejection(
    'cached_exceeds_input',
    cached > input || written === 0 ? `${detailsField}.cached_tokens` : `${detailsField}.${writeKey}`,
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
  const total = count(u, 'total_tokens', 'usage.');
  if (!Number.isSafeInteger(expected)) {
    throw new Rejection('unsafe_integer', 'usage', 'the token parts sum past 2^53 - 1 (Number.MAX_SAFE_INTEGER)');
  }
  if (total !== expected) {
    throw new Rejection('total_mismatch', 'usage.total_tokens', `usage.total_tokens is ${total} but ${formula} is ${expected}`);
  }
}

function checkTotalIsSafe(usage: CanonicalUsage): CanonicalUsage {
  if (!Number.isSafeInteger(totalTokens(usage))) {
    throw new Rejection('unsafe_integer', 'usage', 'the token parts sum past 2^53 - 1 (Number.MAX_SAFE_INTEGER)');
  }
  return usage;
}

function count(obj: Json | undefined, key: string, prefix: string): number {
  return optional(obj, key, prefix) ?? 0;
}

function optional(obj: Json | undefined, key: string, prefix: string): number | undefined {
  if (obj === undefined || !present(obj, key)) return undefined;
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

/** A key as it may appear in a field path: client keys can be any length. */
function clip(key: string): string {
  return key.length > 80 ? `${key.slice(0, 80)}...` : key;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}
