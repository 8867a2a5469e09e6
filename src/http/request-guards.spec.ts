import fc from 'fast-check';
import { RequestError } from './domain-error.js';
import { checkParams, checkQuery, jsonBodyText, jsonDepthExceeds, MAX_JSON_DEPTH, textProblem } from './request-guards.js';

/** How deeply a parsed JSON value nests objects and arrays (a scalar is 0). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const items = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...items.map(depthOf));
}

function codeOf(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    if (error instanceof RequestError) return error.code;
    throw error;
  }
}

describe('jsonDepthExceeds', () => {
  it('agrees with the depth of the parsed value, for any JSON (strings full of brackets and escapes too)', () => {
    const text = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', '\u00e9') });
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.integer(), fc.constant(null), tie('array'), tie('object')),
      array: fc.array(tie('tree'), { maxLength: 3 }),
      object: fc.dictionary(text, tie('tree'), { maxKeys: 3 }),
    }));
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 6 }), (value, max) => {
        expect(jsonDepthExceeds(JSON.stringify(value), max)).toBe(depthOf(value) > max);
      }),
      { numRuns: 500 },
    );
  });

  it('finds depth thousands deep without recursion', () => {
    expect(jsonDepthExceeds(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`, MAX_JSON_DEPTH)).toBe(false);
  });
});

describe('jsonBodyText', () => {
  it('reads an empty body as none, refuses bytes that are not UTF-8, other charsets and deep nesting', () => {
    expect(jsonBodyText(Buffer.alloc(0), 'application/json')).toBeUndefined();
    expect(jsonBodyText(Buffer.from('{"a":"é"}'), 'application/json; charset=UTF-8')).toBe('{"a":"é"}');
    expect(codeOf(() => jsonBodyText(Buffer.from([0x7b, 0xff, 0x7d]), 'application/json'))).toBe('invalid_utf8');
    // An encoded lone surrogate (ED A0 80) is not UTF-8 either.
    expect(codeOf(() => jsonBodyText(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'application/json'))).toBe('invalid_utf8');
    expect(codeOf(() => jsonBodyText(Buffer.from('{}'), 'application/json; charset=latin1'))).toBe('unsupported_media_type');
    expect(codeOf(() => jsonBodyText(Buffer.from('['.repeat(65) + ']'.repeat(65)), 'application/json'))).toBe('too_deep');
  });
});

describe('query and path guards', () => {
  it('refuses NUL bytes, lone surrogates and repeated names; passes everything else', () => {
    expect(textProblem('ok é 😀')).toBeNull();
    expect(textProblem('a\u0000b')).toBe('nul_byte');
    expect(textProblem('a\ud800b')).toBe('invalid_text');
    expect(textProblem('\udc00')).toBe('invalid_text');
    expect(codeOf(() => checkQuery({ limit: ['1', '2'] }))).toBe('repeated_parameter');
    expect(codeOf(() => checkQuery({ after: 'a\u0000' }))).toBe('nul_byte');
    expect(codeOf(() => checkQuery({ 'a\u0000': '1' }))).toBe('nul_byte');
    expect(codeOf(() => checkParams({ account: '\ud800' }))).toBe('invalid_text');
    expect(codeOf(() => checkQuery({ after: 'acme', limit: '10' }))).toBeNull();
  });
});
