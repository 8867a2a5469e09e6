import fc from 'fast-check';
import {
  CatalogConflictError,
  buildModelIndex,
  createModelResolver,
  resolveModel,
  stripSnapshotSuffix,
  type CatalogModel,
} from './model-resolution.js';

const CATALOG: CatalogModel[] = [
  { id: 'qwen-max', aliases: ['qwen-max-latest'], tier: 'premier', provider: 'dashscope' },
  { id: 'gpt-4o', aliases: [], tier: 'specialized', provider: 'openai' },
  { id: 'gpt-4o-mini', aliases: [], tier: 'base', provider: 'openai' },
  { id: 'claude-sonnet', aliases: ['claude-3-5-sonnet'], tier: 'premier', provider: 'anthropic' },
  // An explicit dated alias pointing somewhere the suffix rule would not.
  { id: 'gpt-4o-legacy', aliases: ['gpt-4o-2024-05-13'], tier: 'premier', provider: 'openai' },
];

describe('stripSnapshotSuffix', () => {
  it.each([
    ['qwen-max-2025-01-25', 'qwen-max'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet'],
    ['gemini-pro@20240229', 'gemini-pro'],
    ['m-2024-01-01-2024-02-02', 'm-2024-01-01'],
  ])('%s -> %s', (name, base) => {
    expect(stripSnapshotSuffix(name)).toBe(base);
  });

  it.each(['gpt-4o', 'model-12345678', 'x-2023-02-29', 'x-20241301', '-20240101', 'x20240101', 'x-2024-0101', 'gpt-4-0125'])(
    'leaves %s alone',
    (name) => {
      expect(stripSnapshotSuffix(name)).toBeUndefined();
    },
  );
});

describe('resolveModel', () => {
  it.each([
    ['gpt-4o', 'gpt-4o', 'id'],
    ['gpt-4o-mini', 'gpt-4o-mini', 'id'],
    ['qwen-max-latest', 'qwen-max', 'alias'],
    ['qwen-max-2025-01-25', 'qwen-max', 'snapshot_id'],
    ['gpt-4o-2024-08-06', 'gpt-4o', 'snapshot_id'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini', 'snapshot_id'],
    ['claude-3-5-sonnet-20241022', 'claude-sonnet', 'snapshot_alias'],
    ['gpt-4o-2024-05-13', 'gpt-4o-legacy', 'alias'],
  ])('%s -> %s by %s', (name, id, by) => {
    const r = resolveModel(name, CATALOG);
    expect(r).toMatchObject({ status: 'resolved', name, matched_by: by });
    expect(r.status === 'resolved' && r.model.id).toBe(id);
  });

  it.each(['GPT-4o', 'gpt-5', 'gpt-4o-20241399', 'qwen-max-latest-2025-01-25x', '', 'constructor', '__proto__'])(
    'reports %j as unknown',
    (name) => {
      expect(resolveModel(name, CATALOG)).toEqual({ status: 'unknown', name });
    },
  );

  it('answers the same from a catalog, a prebuilt index, a resolver and any catalog order', () => {
    const index = buildModelIndex(CATALOG);
    const resolver = createModelResolver(CATALOG);
    fc.assert(
      fc.property(
        fc.constantFrom('gpt-4o', 'qwen-max-2025-01-25', 'claude-3-5-sonnet-20241022', 'nope', 'gpt-4o-2024-05-13'),
        fc.shuffledSubarray(CATALOG, { minLength: CATALOG.length }),
        (name, shuffled) => {
          const expected = resolveModel(name, CATALOG);
          expect(resolveModel(name, index)).toEqual(expected);
          expect(resolver(name)).toEqual(expected);
          expect(resolveModel(name, shuffled)).toEqual(expected);
        },
      ),
    );
  });

  it('resolves every dated snapshot of an id to that id', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('gpt-4o', 'qwen-max', 'gpt-4o-mini'),
        fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom('dashed', 'compact', 'at'),
        (id, date, style) => {
          const [y, m, d] = date.toISOString().slice(0, 10).split('-');
          const suffix = style === 'dashed' ? `-${y}-${m}-${d}` : style === 'compact' ? `-${y}${m}${d}` : `@${y}${m}${d}`;
          const r = resolveModel(`${id}${suffix}`, CATALOG);
          expect(r.status === 'resolved' && r.model.id).toBe(id);
        },
      ),
    );
  });

  it('refuses an ambiguous catalog instead of letting order decide', () => {
    const dupId = [...CATALOG, { id: 'gpt-4o', aliases: [], tier: 'base' as const }];
    const dupAlias = [...CATALOG, { id: 'other', aliases: ['qwen-max-latest'], tier: 'base' as const }];
    const aliasIsId = [...CATALOG, { id: 'other', aliases: ['gpt-4o'], tier: 'base' as const }];
    for (const catalog of [dupId, dupAlias, aliasIsId]) {
      expect(() => buildModelIndex(catalog)).toThrow(CatalogConflictError);
    }
    expect(() => buildModelIndex([{ id: 'self', aliases: ['self'], tier: 'base' }])).not.toThrow();
  });
});
