import { BARE_KINDS, startBare } from './bare-server.js';
import { RawConnection, requestBytes } from './raw-http.js';

describe('the bare servers of the authorize floors', () => {
  it.each(BARE_KINDS)('%s answers the authorize request as the bench client reads it, and refuses a body that is not JSON', async (kind) => {
    const bare = await startBare(kind);
    const connection = new RawConnection(bare.url);
    try {
      const body = Buffer.from(JSON.stringify({ amount: '0.0125', session_id: 's', session_context: 'external', expires_in_seconds: 30 }));
      const bytes = requestBytes(bare.url, 'POST', '/v1/authorizations', { key: 'tm_test_k', body });
      for (let i = 0; i < 3; i++) {
        const reply = await connection.request(bytes);
        expect(reply.status).toBe(200);
        expect(reply.body.toString('utf8')).toContain('"allowed":true');
      }
      const bad = await connection.request(requestBytes(bare.url, 'POST', '/v1/authorizations', { key: 'tm_test_k', body: Buffer.from('{nope') }));
      expect(bad.status).toBe(400);
    } finally {
      connection.close();
      await bare.stop();
    }
    expect(bare.child.exitCode ?? bare.child.signalCode).not.toBeNull();
  });
});
