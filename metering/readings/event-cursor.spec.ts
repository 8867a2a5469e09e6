import fc from 'fast-check';
import { decodeCursor, encodeCursor } from './event-cursor.js';

describe('event cursor', () => {
  it('round-trips any (time, id)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }), fc.string({ minLength: 1, maxLength: 255 }).filter((s) => !s.includes('\u0000')), (t, id) => {
        const c = { tsMicros: t.toString(), eventId: id };
        const encoded = encodeCursor(c);
        expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeCursor(encoded)).toEqual(c);
      }),
    );
  });

  it.each(['', 'not base64!', Buffer.from('{"t":"x","i":"a"}').toString('base64url'), Buffer.from('[1,2]').toString('base64url'), Buffer.from('nope').toString('base64url'), Buffer.from('{"t":"1","i":""}').toString('base64url')])(
    'refuses %j with invalid_cursor',
    (raw) => {
      expect(() => decodeCursor(raw)).toThrow(expect.objectContaining({ code: 'invalid_cursor', details: { field: 'cursor' } }));
    },
  );
});
