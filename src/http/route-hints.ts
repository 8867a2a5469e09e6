// What the answer to a request no route serves says, from the API's own routes (the OpenAPI document's
// paths): a path that exists under other methods is a 405 that lists them (and the Allow header), and a path
// one mistyped or misplaced segment away from a route is a 404 that names it ("Did you mean ...?").
import { Injectable } from '@nestjs/common';
import leven from 'leven';
import type { RequestError } from './domain-error.js';
import { routeInputs, unreadQuery, type RouteInputs } from './unread-query.js';

/** A route as the document writes it: `GET` and `/v1/accounts/{account}/meter`. */
export interface ApiRoute {
  method: string;
  path: string;
}

export type RouteHint = { kind: 'methods'; allowed: string[] } | { kind: 'route'; route: ApiRoute } | { kind: 'document' } | null;

/**
 * Where other services and frameworks serve their OpenAPI document (Fastify's swagger at `/docs/json`, ...):
 * a newcomer tries these first, and is told where this one is (`/docs-json`, set up in src/bootstrap.ts).
 */
const DOCUMENT_GUESSES = new Set([
  '/docs/json',
  '/docs/openapi.json',
  '/docs.json',
  '/openapi',
  '/openapi.json',
  '/openapi.yaml',
  '/swagger.json',
  '/api-docs',
  '/v1/docs',
  '/v1/openapi.json',
]);

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'];

/** The routes of an OpenAPI document's `paths`. */
export function routesOf(paths: Record<string, object | undefined>): ApiRoute[] {
  const routes: ApiRoute[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) if (item !== undefined && method.toLowerCase() in item) routes.push({ method, path });
  }
  return routes;
}

function segmentsOf(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

const isParam = (segment: string) => segment.startsWith('{') && segment.endsWith('}');

/** A segment typed for a known one: a letter or two off, more for longer words (`acounts`, `metre`, `v2`). */
function near(given: string, known: string): boolean {
  const most = Math.max(1, Math.min(2, Math.floor(known.length / 2)));
  // The distance is at least the difference in length: a long segment costs no edit distance.
  return Math.abs(given.length - known.length) <= most && leven(given.toLowerCase(), known) <= most;
}

// Costs of turning the request's segments into a route's: a parameter takes any segment; a static segment
// its own word (or one near it, at half a step); a request segment too many or a route segment missing is a
// step (a missing static word a step and a half: the request never named it; the request's last segment
// too, the thing it asks for).
const NEAR = 0.5;
const EXTRA = 1;
const EXTRA_LAST = 1.5;
const MISSING_PARAM = 1;
const MISSING_WORD = 1.5;
/** A parameter given one of the API's own words (`.../acme/webhook-endpoints` for `{account}`): likely not its value. */
const WORD_AS_PARAM = 1;
/** A route of another method than the request's is suggested only when no route of its own is as close. */
const OTHER_METHOD = 0.75;
/** The furthest a suggestion may be: two segments, e.g. `/v1/accounts/acme/webhook-endpoints` for `/v1/webhook-endpoints`. */
const FURTHEST = 2;

/** Edit distance over segments with the costs above; `words` are the API's static segments. */
export function segmentDistance(route: readonly string[], given: readonly string[], words: ReadonlySet<string> = new Set()): number {
  let previous = Array.from({ length: route.length + 1 }, (_, j) => route.slice(0, j).reduce((sum, s) => sum + (isParam(s) ? MISSING_PARAM : MISSING_WORD), 0));
  for (let i = 1; i <= given.length; i++) {
    const extra = i === given.length ? EXTRA_LAST : EXTRA;
    const current = [previous[0]! + extra];
    for (let j = 1; j <= route.length; j++) {
      const known = route[j - 1]!;
      const segment = given[i - 1]!;
      const substitute = isParam(known) ? (words.has(segment) ? WORD_AS_PARAM : 0) : segment === known ? 0 : near(segment, known) ? NEAR : Infinity;
      current.push(
        Math.min(previous[j - 1]! + substitute, previous[j]! + extra, current[j - 1]! + (isParam(known) ? MISSING_PARAM : MISSING_WORD)),
      );
    }
    previous = current;
  }
  return previous[route.length]!;
}

/**
 * How many of the route's own words (its static segments) the request names, in order, as they are or near:
 * a suggestion must share two of them and at least half, so that a parameter taking any segment does not
 * make `/v1/nothing-here` look like `/v1/accounts/{account}`.
 */
function wordsShared(route: readonly string[], given: readonly string[]): { shared: number; words: number } {
  let shared = 0;
  let words = 0;
  let at = 0;
  for (const known of route) {
    if (isParam(known)) continue;
    words++;
    const found = given.findIndex((segment, i) => i >= at && (segment === known || near(segment, known)));
    if (found !== -1) {
      shared++;
      at = found + 1;
    }
  }
  return { shared, words };
}

export class RouteHints {
  private readonly routes: { route: ApiRoute; segments: string[] }[];
  private readonly words: Set<string>;

  /** Segments past the longest route's by more than FURTHEST cannot be near any route (each extra one costs a step). */
  private readonly mostSegments: number;

  constructor(routes: readonly ApiRoute[]) {
    this.routes = routes.map((route) => ({ route, segments: segmentsOf(route.path) }));
    this.words = new Set(this.routes.flatMap((r) => r.segments.filter((s) => !isParam(s))));
    this.mostSegments = Math.max(0, ...this.routes.map((r) => r.segments.length)) + FURTHEST;
  }

  /** The hint for `method url`, which no route served (null: nothing better than "no such route"). */
  hint(method: string, url: string): RouteHint {
    const path = url.split('?')[0]!;
    if ((method === 'GET' || method === 'HEAD') && DOCUMENT_GUESSES.has(path.toLowerCase().replace(/(.)\/$/, '$1'))) return { kind: 'document' };
    const given = segmentsOf(path);
    // A request pays for its own hint: a path of thousands of segments is not compared with every route.
    if (given.length > this.mostSegments) return null;
    const serving = this.routes.filter((r) => r.segments.length === given.length && r.segments.every((s, i) => isParam(s) || s === given[i]));
    const own = serving.find((r) => r.route.method === method);
    // The route is there under this method: a trailing or doubled slash is what kept it from matching
    // (anything else, say a parameter too long, is no spelling to correct).
    if (own !== undefined) return /\/\/|.\/$/.test(path) ? { kind: 'route', route: own.route } : null;
    const closest = this.closest(method, given);
    // A path served under other methods is a 405, unless a route of the request's own method is a typo
    // away (`POST .../budgets/transfer` meant the transfers, not `PUT .../budgets/{node}`).
    if (serving.length > 0 && !(closest !== null && closest.route.method === method && closest.cost <= NEAR)) {
      const allowed = new Set(serving.map((r) => r.route.method));
      if (allowed.has('GET')) allowed.add('HEAD');
      return { kind: 'methods', allowed: [...allowed].sort() };
    }
    return closest === null ? null : { kind: 'route', route: closest.route };
  }

  private closest(method: string, given: readonly string[]): { route: ApiRoute; cost: number } | null {
    let best: { route: ApiRoute; cost: number } | null = null;
    for (const r of this.routes) {
      const cost = segmentDistance(r.segments, given, this.words) + (r.route.method === method ? 0 : OTHER_METHOD);
      if (cost > FURTHEST || (best !== null && cost >= best.cost)) continue;
      const { shared, words } = wordsShared(r.segments, given);
      if (shared >= 2 && shared * 2 >= words) best = { route: r.route, cost };
    }
    return best;
  }
}

/** The API's routes for the error filter, given once the OpenAPI document is built (src/bootstrap.ts). */
/** No own key: what nearly every request's query is (checked before any string is built for it). */
function isEmpty(value: object): boolean {
  for (const _ in value) return false;
  return true;
}

@Injectable()
export class ApiRoutes {
  private hints: RouteHints | null = null;
  private inputs = new Map<string, RouteInputs>();

  use(document: { paths: Record<string, object | undefined>; components?: { schemas?: Record<string, unknown> } }): void {
    this.hints = new RouteHints(routesOf(document.paths));
    this.inputs = routeInputs(document);
  }

  /** A routed request's query string, when its route reads none (src/http/unread-query.ts): the error, or null. */
  unreadQuery(method: string, routeUrl: string | undefined, query: unknown): RequestError | null {
    if (routeUrl === undefined || query === null || typeof query !== 'object' || isEmpty(query)) return null;
    const route = `${method} ${routeUrl}`;
    return unreadQuery(route, this.inputs.get(route), query as Record<string, unknown>);
  }

  hint(method: string, url: string): RouteHint {
    return this.hints?.hint(method, url) ?? null;
  }
}
