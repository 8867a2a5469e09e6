// Owns the list of every key each usage shape documents and what each one is: a count we bill, a part of
// one, the provider's total, or not a token count. Normalisation reads it to refuse unknown counts and name
// ignored fields; the README's table of usage keys is rendered from it (a test keeps the two equal).

/**
 * - `counted`: a token count that is billed; the shape's parts of input and output.
 * - `part`: a part of a counted key (cache reads or writes, reasoning, a modality): never added to it.
 * - `total`: the provider's own total; checked against the counted keys.
 * - `details`: an object whose counts are parts of its parent's count (`*_details`, `cache_creation`).
 * - `not_tokens`: not a token count (a tier, a region, a count of requests or images, seconds).
 */
export type UsageKeyRole = 'counted' | 'part' | 'total' | 'details' | 'not_tokens';

export interface UsageKey {
  readonly role: UsageKeyRole;
  /** What it is, for people. */
  readonly means: string;
  /** A part that is read: the canonical kind its tokens are priced as (moved there out of their parent's). */
  readonly to?: 'cached_input' | 'cache_write' | 'reasoning';
  /** The keys of a `details` object. */
  readonly keys?: UsageKeyList;
  /**
   * A per-TTL breakdown's keys follow this pattern: a TTL the provider adds later is summed (and so
   * neither refused nor ignored), since the breakdown must add up to the count it breaks down.
   */
  readonly pattern?: RegExp;
}

export type UsageKeyList = Readonly<Record<string, UsageKey>>;

export interface UsageShape {
  /** The `usage_format` this shape is reported as. */
  readonly format: 'canonical' | 'openai_chat' | 'openai_responses' | 'anthropic' | 'dashscope';
  readonly title: string;
  /** Where the list comes from. */
  readonly source: string;
  /** Counting keys the shape cannot be read without (absent or null rejects the event). */
  readonly required: readonly string[];
  readonly keys: UsageKeyList;
}

const counted = (means: string): UsageKey => ({ role: 'counted', means });
const part = (means: string, to?: UsageKey['to']): UsageKey => ({ role: 'part', means, ...(to ? { to } : {}) });
const notTokens = (means: string): UsageKey => ({ role: 'not_tokens', means });
const details = (means: string, keys: UsageKeyList, pattern?: RegExp): UsageKey => ({ role: 'details', means, keys, ...(pattern ? { pattern } : {}) });
const total = (sum: string, note = ''): UsageKey => ({ role: 'total', means: `checked: must equal ${sum}${note}` });

const modality = (of: string): UsageKey => part(`modality breakdown of \`${of}\` (not read)`);

/** Anthropic's (and DashScope's) cache-write breakdown by TTL. */
const cacheCreationBreakdown = (of: string, who = ''): UsageKey =>
  details(
    `${who}\`${of}\` by cache TTL; must add up to it`,
    {
      ephemeral_5m_input_tokens: part(`part of \`${of}\`: written with a 5-minute TTL`),
      ephemeral_1h_input_tokens: part(`part of \`${of}\`: written with a 1-hour TTL`),
    },
    /^ephemeral_[a-z0-9]+_input_tokens$/,
  );

export const CANONICAL_SHAPE: UsageShape = {
  format: 'canonical',
  title: 'Canonical (tokenmeter)',
  source: 'tokenmeter; any other key rejects the event',
  required: [],
  keys: {
    input: counted('input that was neither read from nor written to a cache'),
    cached_input: counted('input read from a cache'),
    cache_write: counted('input written to a cache'),
    output: counted('output, reasoning included'),
    reasoning: part('part of output: reasoning, priced at the reasoning rate'),
  },
};

export const OPENAI_CHAT_SHAPE: UsageShape = {
  format: 'openai_chat',
  title: 'OpenAI Chat Completions (and DashScope OpenAI-compatible mode)',
  source: '`openai` 7.x `CompletionUsage`; DashScope compatible-mode additions marked',
  required: ['prompt_tokens', 'completion_tokens'],
  keys: {
    prompt_tokens: counted('input, cache reads and writes included -> `input` (less the cached and written parts)'),
    completion_tokens: counted('output, reasoning included -> `output`'),
    total_tokens: total('prompt_tokens + completion_tokens'),
    prompt_tokens_details: details('parts of prompt_tokens', {
      cached_tokens: part('part of prompt_tokens: read from the cache', 'cached_input'),
      cache_write_tokens: part('part of prompt_tokens: written to the cache', 'cache_write'),
      cache_creation_input_tokens: part('DashScope: part of prompt_tokens written to the cache (equals cache_write_tokens when both are sent)', 'cache_write'),
      cache_creation: cacheCreationBreakdown('cache_creation_input_tokens', 'DashScope: '),
      cache_type: notTokens('DashScope: the cache kind (`ephemeral`)'),
      audio_tokens: modality('prompt_tokens'),
      image_tokens: modality('prompt_tokens'),
      text_tokens: modality('prompt_tokens'),
      video_tokens: part('DashScope: modality breakdown of `prompt_tokens` (not read)'),
    }),
    completion_tokens_details: details('parts of completion_tokens', {
      reasoning_tokens: part('part of completion_tokens: reasoning', 'reasoning'),
      accepted_prediction_tokens: part('part of completion_tokens: predicted output that was used (not read)'),
      rejected_prediction_tokens: part('part of completion_tokens: predicted output that was not used, billed as output (not read)'),
      audio_tokens: modality('completion_tokens'),
      text_tokens: modality('completion_tokens'),
    }),
  },
};

export const OPENAI_RESPONSES_SHAPE: UsageShape = {
  format: 'openai_responses',
  title: 'OpenAI Responses',
  source: '`openai` 7.x `ResponseUsage`',
  required: ['input_tokens', 'output_tokens'],
  keys: {
    input_tokens: counted('input, cache reads and writes included -> `input` (less the cached and written parts)'),
    output_tokens: counted('output, reasoning included -> `output`'),
    total_tokens: total('input_tokens + output_tokens'),
    input_tokens_details: details('parts of input_tokens', {
      cached_tokens: part('part of input_tokens: read from the cache', 'cached_input'),
      cache_write_tokens: part('part of input_tokens: written to the cache', 'cache_write'),
      cache_write_tokens_details: details(
        'cache_write_tokens by retention; must add up to it',
        {
          ttl_30m_tokens: part('part of cache_write_tokens: written with 30-minute retention'),
          ttl_12h_tokens: part('part of cache_write_tokens: written with 12-hour retention'),
        },
        /^ttl_[a-z0-9]+_tokens$/,
      ),
    }),
    output_tokens_details: details('parts of output_tokens', {
      reasoning_tokens: part('part of output_tokens: reasoning', 'reasoning'),
    }),
  },
};

export const ANTHROPIC_SHAPE: UsageShape = {
  format: 'anthropic',
  title: 'Anthropic Messages',
  source: '`@anthropic-ai/sdk` 1.x `Usage`',
  required: ['input_tokens', 'output_tokens'],
  keys: {
    input_tokens: counted('input after the last cache breakpoint, cache reads and writes NOT included -> `input`'),
    cache_read_input_tokens: counted('input read from the cache -> `cached_input`'),
    cache_creation_input_tokens: counted('input written to the cache -> `cache_write`'),
    output_tokens: counted('output, thinking included -> `output`'),
    total_tokens: total('input_tokens + cache_read_input_tokens + cache_creation_input_tokens + output_tokens', ' (Anthropic sends none; a relay may)'),
    cache_creation: cacheCreationBreakdown('cache_creation_input_tokens'),
    output_tokens_details: details('parts of output_tokens', {
      thinking_tokens: part('part of output_tokens: thinking', 'reasoning'),
    }),
    server_tool_use: notTokens('counts of server tool requests (web search, web fetch), billed per request'),
    service_tier: notTokens('`standard`, `priority` or `batch`'),
    inference_geo: notTokens('where inference ran'),
    speed: notTokens('`standard` or `fast`'),
  },
};

export const DASHSCOPE_SHAPE: UsageShape = {
  format: 'dashscope',
  title: 'DashScope (native API; its OpenAI-compatible mode is the Chat Completions shape)',
  source: 'DashScope SDK `GenerationUsage`, `MultiModalConversationUsage`, `MultiModalConversationTokensDetails`',
  required: ['input_tokens', 'output_tokens'],
  keys: {
    input_tokens: counted('input, cache reads and writes included -> `input` (less the cached and written parts)'),
    output_tokens: counted('output, reasoning included -> `output`'),
    total_tokens: total('input_tokens + output_tokens'),
    cached_tokens: part('part of input_tokens: read from the cache (some models and regions send it here)', 'cached_input'),
    image_tokens: modality('input_tokens'),
    video_tokens: modality('input_tokens'),
    audio_tokens: modality('input_tokens'),
    prompt_tokens_details: details('parts of input_tokens', {
      cached_tokens: part('part of input_tokens: read from the cache', 'cached_input'),
      cache_creation_input_tokens: part('part of input_tokens: written to the cache', 'cache_write'),
      cache_creation: cacheCreationBreakdown('cache_creation_input_tokens'),
      cache_type: notTokens('the cache kind (`ephemeral`)'),
      text_tokens: modality('input_tokens'),
      image_tokens: modality('input_tokens'),
      audio_tokens: modality('input_tokens'),
      video_tokens: modality('input_tokens'),
    }),
    input_tokens_details: details('parts of input_tokens', {
      cached_tokens: part('part of input_tokens: read from the cache (must equal any other copy)', 'cached_input'),
      cache_creation_input_tokens: part('part of input_tokens: written to the cache (must equal any other copy)', 'cache_write'),
      cache_type: notTokens('the cache kind (`ephemeral`)'),
      text_tokens: modality('input_tokens'),
      image_tokens: modality('input_tokens'),
      audio_tokens: modality('input_tokens'),
      video_tokens: modality('input_tokens'),
    }),
    output_tokens_details: details('parts of output_tokens', {
      reasoning_tokens: part('part of output_tokens: reasoning', 'reasoning'),
      text_tokens: modality('output_tokens'),
      audio_tokens: modality('output_tokens'),
      image_tokens: modality('output_tokens'),
      video_tokens: modality('output_tokens'),
    }),
    plugins: notTokens('plugin use (search count and strategy)'),
    image_count: notTokens('number of images'),
    width: notTokens('image width in pixels'),
    height: notTokens('image height in pixels'),
    seconds: notTokens('audio or video duration'),
    characters: notTokens('number of characters (speech)'),
  },
};

/** Every shape, canonical first: the order of the README's table. */
export const USAGE_SHAPES: readonly UsageShape[] = [CANONICAL_SHAPE, OPENAI_CHAT_SHAPE, OPENAI_RESPONSES_SHAPE, ANTHROPIC_SHAPE, DASHSCOPE_SHAPE];

const ROLE_WORDS: Record<UsageKeyRole, string> = {
  counted: 'counted',
  part: 'part',
  total: 'total',
  details: 'parts object',
  not_tokens: 'not tokens',
};

function rows(keys: UsageKeyList, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, spec] of Object.entries(keys)) {
    const pattern = spec.pattern ? `; any key matching \`${spec.pattern.source}\` is a part` : '';
    const to = spec.to ? ` -> \`${spec.to}\`` : '';
    out.push(`| \`${prefix}${key}\` | ${ROLE_WORDS[spec.role]} | ${spec.means}${pattern}${to} |`);
    if (spec.keys) out.push(...rows(spec.keys, `${prefix}${key}.`));
  }
  return out;
}

/** The README's table of usage keys, one section per shape. */
export function usageKeysMarkdown(): string {
  const sections = USAGE_SHAPES.map((shape) => {
    const required = shape.required.length ? `; requires ${shape.required.map((k) => `\`${k}\``).join(' and ')}` : '';
    return [`**${shape.title}** (\`${shape.format}\`; ${shape.source}${required})`, '', '| key | what | meaning |', '| --- | --- | --- |', ...rows(shape.keys, '')].join('\n');
  });
  return sections.join('\n\n');
}
