// Owns turning a model name reported on an event into a catalog model, deterministically and purely;
// order: exact id, exact alias, then strip one dated-snapshot suffix and retry id, then alias; else unknown.
//
// Why this order: an id is the catalog's own name and cannot be wrong; an explicit alias is a deliberate
// mapping (it may even point a specific dated snapshot at a different model or tier), so both beat the
// generic snapshot rule. The suffix rule strips exactly one trailing `-YYYY-MM-DD`, `-YYYYMMDD` or
// `@YYYYMMDD` that is a real calendar date, so `qwen-max-2025-01-25` -> `qwen-max`, `gpt-4o-2024-08-06`
// -> `gpt-4o`, `claude-3-5-sonnet-20241022` -> `claude-3-5-sonnet`, while `model-12345678` (no such
// date) stays unknown. Matching is case-sensitive: provider names are case-sensitive, and guessing
// would let two catalog entries collide.
import { isCalendarDate } from '../pricing/instant.js';
import { isTier, type Tier } from '../pricing/pricing.js';

export interface CatalogModel {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly tier: Tier;
  readonly provider?: string;
}

export type MatchedBy = 'id' | 'alias' | 'snapshot_id' | 'snapshot_alias';

export type ModelResolution<M extends CatalogModel = CatalogModel> =
  | { readonly status: 'resolved'; readonly name: string; readonly model: M; readonly matched_by: MatchedBy }
  | { readonly status: 'unknown'; readonly name: string };

export class CatalogConflictError extends Error {
  override readonly name = 'CatalogConflictError';
  readonly code = 'CATALOG_NAME_CONFLICT';
  /** The name claimed twice (two ids, two aliases, or an alias equal to another model's id). */
  readonly model_name: string;

  constructor(modelName: string, message: string) {
    super(message);
    this.model_name = modelName;
  }
}

export interface ModelIndex<M extends CatalogModel = CatalogModel> {
  readonly byId: ReadonlyMap<string, M>;
  readonly byAlias: ReadonlyMap<string, M>;
}

/**
 * Builds lookup maps once per catalog. Refuses ambiguous catalogs instead of letting array order decide:
 * a name must point at one model. An alias equal to its own model's id is harmless and ignored.
 */
export function buildModelIndex<M extends CatalogModel>(catalog: readonly M[]): ModelIndex<M> {
  const byId = new Map<string, M>();
  const byAlias = new Map<string, M>();
  for (const model of catalog) {
    if (!isTier(model.tier)) {
      throw new CatalogConflictError(model.id, `model ${model.id} has unknown tier ${String(model.tier)}`);
    }
    if (byId.has(model.id)) throw new CatalogConflictError(model.id, `model id ${model.id} appears twice`);
    byId.set(model.id, model);
  }
  for (const model of catalog) {
    for (const alias of model.aliases) {
      if (alias === model.id) continue;
      const owner = byId.get(alias) ?? byAlias.get(alias);
      if (owner !== undefined && owner !== model) {
        throw new CatalogConflictError(alias, `alias ${alias} of ${model.id} is already used by ${owner.id}`);
      }
      byAlias.set(alias, model);
    }
  }
  return { byId, byAlias };
}

const SNAPSHOT_SUFFIX = /^(.+?)(?:-(\d{4})-(\d{2})-(\d{2})|[-@](\d{4})(\d{2})(\d{2}))$/;

/** The name without its dated-snapshot suffix, or undefined when it has none. */
export function stripSnapshotSuffix(name: string): string | undefined {
  const m = SNAPSHOT_SUFFIX.exec(name);
  if (m === null) return undefined;
  const year = Number(m[2] ?? m[5]);
  const month = Number(m[3] ?? m[6]);
  const day = Number(m[4] ?? m[7]);
  return isCalendarDate(year, month, day) ? m[1] : undefined;
}

function isIndex<M extends CatalogModel>(c: readonly M[] | ModelIndex<M>): c is ModelIndex<M> {
  return !Array.isArray(c);
}

export function resolveModel<M extends CatalogModel>(
  name: string,
  catalog: readonly M[] | ModelIndex<M>,
): ModelResolution<M> {
  const index = isIndex(catalog) ? catalog : buildModelIndex(catalog);
  const direct = index.byId.get(name);
  if (direct !== undefined) return { status: 'resolved', name, model: direct, matched_by: 'id' };
  const aliased = index.byAlias.get(name);
  if (aliased !== undefined) return { status: 'resolved', name, model: aliased, matched_by: 'alias' };
  const base = stripSnapshotSuffix(name);
  if (base !== undefined) {
    const snapId = index.byId.get(base);
    if (snapId !== undefined) return { status: 'resolved', name, model: snapId, matched_by: 'snapshot_id' };
    const snapAlias = index.byAlias.get(base);
    if (snapAlias !== undefined) return { status: 'resolved', name, model: snapAlias, matched_by: 'snapshot_alias' };
  }
  return { status: 'unknown', name };
}

/** A resolver bound to one catalog, for hot paths that resolve many names against the same catalog. */
export function createModelResolver<M extends CatalogModel>(catalog: readonly M[]): (name: string) => ModelResolution<M> {
  const index = buildModelIndex(catalog);
  return (name) => resolveModel(name, index);
}
