import 'reflect-metadata';
import type { OpenAPIObject } from '@nestjs/swagger';
import { completeDocument, componentSchemas, described, documented, documentedShape, ErrorSchema, listOf, named, Responds, sharedFailures } from './openapi.js';

const Thing = named('SpecThing', {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'at'],
  properties: { id: { type: 'string' }, at: { type: 'string', format: 'date-time' }, note: { type: ['string', 'null'] } },
} as const);

describe('named schemas', () => {
  it('are shown as $refs wherever they appear, themselves included', () => {
    const list = listOf(Thing);
    expect(documented(list)).toEqual({
      type: 'object',
      additionalProperties: false,
      required: ['data'],
      properties: { data: { type: 'array', items: { $ref: '#/components/schemas/SpecThing' } } },
    });
    expect(documented(Thing)).toEqual({ $ref: '#/components/schemas/SpecThing' });
    expect(documented(Thing, false)).toEqual(Thing);
  });

  it('refuse a name used for two schemas, and one schema under two names', () => {
    expect(() => named('SpecThing', { type: 'object' })).toThrow(/registered twice/);
    expect(() => named('SpecOther', Thing)).toThrow(/registered as "SpecThing"/);
    expect(() => named('not-pascal', { type: 'object' })).toThrow(/PascalCase/);
    expect(named('SpecThing', Thing)).toBe(Thing);
  });
});

describe('described request bodies', () => {
  const checked = { type: 'object', additionalProperties: false, properties: { rates: { type: 'object', description: 'prices by tier, in words' } } } as const;
  const shape = { ...checked, properties: { rates: { type: 'object', additionalProperties: { type: 'string' } } } };

  it('keep the schema the pipe validates and document the shape in its place', () => {
    expect(described('SpecDescribed', checked, shape)).toBe(checked);
    expect(documented(checked)).toEqual({ $ref: '#/components/schemas/SpecDescribed' });
    expect(componentSchemas().SpecDescribed).toEqual(shape);
    expect(documentedShape(checked)).toBe(shape);
    expect(documentedShape(Thing)).toBe(Thing);
  });

  it('refuse a shape naming a field the checked schema does not allow, in any variant', () => {
    expect(() => described('SpecWider', checked, { oneOf: [{ type: 'object', properties: { rates: {}, extra: {} } }] })).toThrow(/documents "extra"/);
  });
});

describe('shared failures', () => {
  it('follow from what a route is', () => {
    expect(sharedFailures('/health/live', 'get', {}).sort()).toEqual([500, 503]);
    expect(sharedFailures('/v1/accounts/{account}', 'get', { security: [{ bearer: [] }], parameters: [{ in: 'path', name: 'account' }] }).sort()).toEqual([
      400, 404, 500, 503,
    ]);
    // A key of another account gets 404 only on routes keyed by an account.
    // An API route refuses a query string it does not read.
    expect(sharedFailures('/v1/models', 'get', { security: [{ bearer: [] }] }).sort()).toEqual([400, 500, 503]);
    expect(sharedFailures('/v1/models', 'get', { parameters: [{ in: 'query', name: 'after' }] }).sort()).toEqual([400, 500, 503]);
    // Fastify parses a body sent with any method but GET, so its errors can answer there.
    expect(sharedFailures('/v1/api-keys/{id}', 'delete', {}).sort()).toEqual([400, 413, 415, 500, 503]);
    expect(sharedFailures('/v1/events', 'post', { requestBody: {} }).sort()).toEqual([400, 413, 415, 500, 503]);
  });

  it('are added to the document without replacing what a route declares', () => {
    const declared = { description: 'own', content: { 'application/json': { schema: { type: 'object' } } } };
    const doc = {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: { '/x/{id}': { get: { parameters: [{ in: 'path', name: 'id' }], responses: { '503': declared } } } },
    } as unknown as OpenAPIObject;
    const done = completeDocument(doc) as unknown as { paths: Record<string, { get: { responses: Record<string, unknown> } }>; components: { schemas: Record<string, unknown> } };
    const responses = done.paths['/x/{id}']!.get.responses;
    expect(Object.keys(responses).sort()).toEqual(['400', '500', '503']);
    expect(responses['503']).toBe(declared);
    expect(responses['400']).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
    expect(done.components.schemas.Error).toEqual(ErrorSchema);
    expect(done.components.schemas.SpecThing).toEqual(Thing);
  });
});

// Type-level: a handler whose answer does not fit its documented schema does not compile
// (`npm run typecheck` fails if an expectation below stops being an error).
export class TypedAnswers {
  @Responds(200, Thing)
  fits(): { id: string; at: Date; note: null } {
    return { id: 'a', at: new Date(), note: null };
  }

  // @ts-expect-error a required field is missing
  @Responds(200, Thing)
  lacksAField(): { id: string } {
    return { id: 'a' };
  }

  // @ts-expect-error a field has the wrong type
  @Responds(200, Thing)
  wrongType(): { id: number; at: string } {
    return { id: 1, at: '' };
  }

  // @ts-expect-error null where the schema does not allow it
  @Responds(200, Thing)
  unexpectedNull(): { id: string; at: string | null } {
    return { id: 'a', at: null };
  }
}
