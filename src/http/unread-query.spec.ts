import { routeInputs, unreadQuery } from './unread-query.js';

const document = {
  paths: {
    '/v1/accounts/{account}/units': { post: { parameters: [{ in: 'path' }], requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/CreateUnit' } } } } } },
    '/v1/accounts/{account}/events': { get: { parameters: [{ in: 'path' }, { in: 'query' }] } },
    '/v1/authorizations': {
      post: { requestBody: { content: { 'application/json': { schema: { oneOf: [{ properties: { amount: {} } }, { properties: { model: {}, tokens: {} } }] } } } } },
    },
    '/health/live': { get: {} },
  },
  components: { schemas: { CreateUnit: { properties: { id: {}, name: {}, parent_id: {} } } } },
};

describe('a query string to a route that reads none', () => {
  const inputs = routeInputs(document);

  it('knows each API route by the path Fastify gives it, its query and its body fields through $ref and variants', () => {
    expect(inputs.get('POST /v1/accounts/:account/units')).toEqual({ query: false, body: new Set(['id', 'name', 'parent_id']) });
    expect(inputs.get('GET /v1/accounts/:account/events')).toEqual({ query: true, body: new Set() });
    expect(inputs.get('POST /v1/authorizations')?.body).toEqual(new Set(['amount', 'model', 'tokens']));
    // Operational routes take what probes send.
    expect(inputs.has('GET /health/live')).toBe(false);
  });

  it('names the first parameter, pointing one the body takes to the body', () => {
    const route = 'POST /v1/accounts/:account/units';
    expect(unreadQuery(route, inputs.get(route), { dry_run: '1', x: '2' })).toMatchObject({
      code: 'unknown_field',
      message: 'Unknown query parameter "dry_run": POST /v1/accounts/{account}/units takes no query parameters.',
      details: { field: 'dry_run' },
    });
    expect(unreadQuery(route, inputs.get(route), { parent_id: 'eng' })?.message).toBe('Query parameter "parent_id" is not read here: send "parent_id" as a field of the body.');
  });

  it('lets through a route that reads a query, a request without one, and a route not in the document', () => {
    expect(unreadQuery('GET /v1/accounts/:account/events', inputs.get('GET /v1/accounts/:account/events'), { limit: '5' })).toBeNull();
    expect(unreadQuery('POST /v1/authorizations', inputs.get('POST /v1/authorizations'), {})).toBeNull();
    expect(unreadQuery('GET /health/live', inputs.get('GET /health/live'), { probe: '1' })).toBeNull();
  });
});
