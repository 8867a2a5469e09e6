import fc from 'fast-check';
import { unroutedResponse } from './http-exception.filter.js';
import { RouteHints, routesOf, segmentDistance, type ApiRoute } from './route-hints.js';

// A slice of the API's own routes, as the OpenAPI document lists them.
const paths = {
  '/v1/events': { post: {} },
  '/v1/authorizations': { post: {} },
  '/v1/authorizations/{id}': { delete: {} },
  '/v1/accounts': { get: {}, post: {} },
  '/v1/accounts/{account}': { get: {}, patch: {} },
  '/v1/accounts/{account}/meter': { get: {} },
  '/v1/accounts/{account}/meter/stream': { get: {} },
  '/v1/accounts/{account}/events': { get: {} },
  '/v1/accounts/{account}/budgets': { get: {} },
  '/v1/accounts/{account}/budgets/{node}': { put: {} },
  '/v1/accounts/{account}/budgets/transfers': { post: {} },
  '/v1/webhook-endpoints': { get: {}, post: {} },
  '/v1/webhook-endpoints/{id}': { get: {}, patch: {}, delete: {} },
};
const hints = new RouteHints(routesOf(paths));

describe('routesOf', () => {
  it('lists each method of each path', () => {
    expect(routesOf({ '/v1/accounts': { get: {}, post: {}, parameters: [] }, '/v1/x/{id}': { delete: {} } })).toEqual([
      { method: 'GET', path: '/v1/accounts' },
      { method: 'POST', path: '/v1/accounts' },
      { method: 'DELETE', path: '/v1/x/{id}' },
    ]);
  });
});

describe('RouteHints', () => {
  it('names the methods a served path takes (GET brings HEAD)', () => {
    expect(hints.hint('GET', '/v1/events')).toEqual({ kind: 'methods', allowed: ['POST'] });
    expect(hints.hint('DELETE', '/v1/accounts/acme?x=1')).toEqual({ kind: 'methods', allowed: ['GET', 'HEAD', 'PATCH'] });
    expect(hints.hint('POST', '/v1/accounts/acme/budgets/person:ada')).toEqual({ kind: 'methods', allowed: ['PUT'] });
  });

  it.each([
    ['POST', '/v1/autorizations', 'POST /v1/authorizations'],
    ['GET', '/v1/acounts/acme/meter', 'GET /v1/accounts/{account}/meter'],
    ['GET', '/v1/accounts/acme/metre', 'GET /v1/accounts/{account}/meter'],
    ['GET', '/v2/events', 'POST /v1/events'],
    ['GET', '/v1/accounts/acme/budget', 'GET /v1/accounts/{account}/budgets'],
    ['POST', '/v1/accounts/acme/webhook-endpoints', 'POST /v1/webhook-endpoints'],
    ['POST', '/v1/accounts/acme/budgets/transfer', 'POST /v1/accounts/{account}/budgets/transfers'],
    ['GET', '/v1/accounts/acme/meter/', 'GET /v1/accounts/{account}/meter'],
    ['POST', '//v1/events', 'POST /v1/events'],
  ])('suggests for %s %s: %s', (method, url, expected) => {
    const hint = hints.hint(method, url);
    expect(hint?.kind === 'route' ? `${hint.route.method} ${hint.route.path}` : hint).toBe(expected);
  });

  it.each([
    ['GET', '/v1/nothing-here'],
    ['GET', '/'],
    ['GET', '/v1/accounts/acme/invoices/upcoming/lines'],
    ['GET', '/console/app.js'],
  ])('suggests nothing for %s %s, far from every route', (method, url) => {
    expect(hints.hint(method, url)).toBeNull();
  });

  it('answers a path with a long segment or thousands of segments as any other (both bounded before the edit distance)', () => {
    expect(hints.hint('GET', `/v1/accounts/acme/${'x'.repeat(8000)}`)).toEqual({ kind: 'route', route: { method: 'GET', path: '/v1/accounts/{account}' } });
    expect(hints.hint('GET', `/v1/events${'/events'.repeat(2000)}`)).toBeNull();
  });

  it("tells where the OpenAPI document is to a GET of where other services keep theirs (/docs/json, /openapi.json, ...)", () => {
    for (const url of ['/docs/json', '/docs/json/', '/openapi.json?x=1', '/swagger.json', '/V1/OpenAPI.json']) expect(hints.hint('GET', url)).toEqual({ kind: 'document' });
    expect(hints.hint('HEAD', '/docs/json')).toEqual({ kind: 'document' });
    expect(hints.hint('POST', '/docs/json')).toBeNull();
    expect(hints.hint('GET', '/docs/jsonx')).toBeNull();
  });

  it('says nothing more of a path its own route serves (a parameter too long for the router, say)', () => {
    expect(hints.hint('GET', `/v1/accounts/${'a'.repeat(300)}/meter`)).toBeNull();
  });

  // Any route, its parameters filled with slugs: the path is served, by its own method and no other.
  const filled = fc
    .tuple(fc.constantFrom(...routesOf(paths)), fc.array(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { minLength: 3, maxLength: 3 }))
    .map(([route, values]): { route: ApiRoute; url: string } => {
      let i = 0;
      return { route, url: route.path.replace(/\{[a-z]+\}/g, () => values[i++]!) };
    });

  it('law: a path a route serves is at distance 0 from it, and answers with the methods that serve it', () => {
    fc.assert(
      fc.property(filled, ({ route, url }) => {
        expect(segmentDistance(route.path.split('/').filter(Boolean), url.split('/').filter(Boolean))).toBe(0);
        const other = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'].find((m) => hints.hint(m, url)?.kind === 'methods');
        // Every path of the slice lacks some method, which is answered with the list that holds this route's.
        const hint = hints.hint(other!, url);
        expect(hint?.kind === 'methods' && hint.allowed.includes(route.method)).toBe(true);
        expect(hints.hint(route.method, url)).toBeNull();
      }),
    );
  });
});

describe('unroutedResponse', () => {
  it('is a 405 with Allow for a path served under other methods', () => {
    expect(unroutedResponse('GET', '/v1/events?limit=1', { kind: 'methods', allowed: ['POST'] }, 'r1')).toEqual({
      status: 405,
      body: { error: { code: 'method_not_allowed', message: '/v1/events takes POST, not GET.', request_id: 'r1' } },
      headers: { allow: 'POST' },
    });
  });

  it('is a 404 that names the route a path is close to, or only the path', () => {
    expect(unroutedResponse('POST', '/v1/autorizations', { kind: 'route', route: { method: 'POST', path: '/v1/authorizations' } }, 'r2').body.error.message).toBe(
      'Cannot POST /v1/autorizations. Did you mean POST /v1/authorizations?',
    );
    expect(unroutedResponse('GET', '/docs/json', { kind: 'document' }, 'r4').body.error.message).toBe(
      'Cannot GET /docs/json. The OpenAPI document is at /docs-json (interactive at /docs).',
    );
    expect(unroutedResponse('GET', '/v1/nothing?x=1', null, 'r3')).toEqual({
      status: 404,
      body: { error: { code: 'route_not_found', message: 'Cannot GET /v1/nothing.', request_id: 'r3' } },
      headers: {},
    });
  });
});
