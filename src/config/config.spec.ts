import { ConfigError, loadConfig } from './config.js';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to the embedded store, in-process jobs and port 3000', () => {
    const config = loadConfig({}, '/srv');
    expect(config).toMatchObject({
      port: 3000,
      workerPort: null,
      databaseUrl: null,
      redisUrl: null,
      dataDir: '/srv/.tokenmeter',
      adminKey: null,
      apiRunsJobs: true,
      keyEnvironment: 'live',
      readingCacheMb: 64,
      ingest: { writersPerAccount: 2, maxGroupEvents: 2000 },
      webhooks: { allowPrivate: [], timeoutMs: 10_000 },
      // A hold is answered once Redis has it; its row follows within 5 ms (write-behind).
      authorizations: { answerAfter: 'redis', writeDelayMs: 5, leaseHolds: 256 },
    });
  });

  it('reads how holds are answered and how long their rows may wait', () => {
    expect(
      loadConfig({ TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'row', TOKENMETER_AUTHORIZE_WRITE_DELAY_MS: '20', TOKENMETER_AUTHORIZE_LEASE_HOLDS: '0' }, '/srv').authorizations,
    ).toEqual({ answerAfter: 'row', writeDelayMs: 20, leaseHolds: 0 });
  });

  it('reads the memory for remembered readings by hour, 0 for none, and refuses a negative or fractional amount', () => {
    expect(loadConfig({ TOKENMETER_READING_CACHE_MB: '0' }, '/srv').readingCacheMb).toBe(0);
    expect(loadConfig({ TOKENMETER_READING_CACHE_MB: '512' }, '/srv').readingCacheMb).toBe(512);
    expect(errorOf({ TOKENMETER_READING_CACHE_MB: '-1' }).variable).toBe('TOKENMETER_READING_CACHE_MB');
    expect(errorOf({ TOKENMETER_READING_CACHE_MB: '1.5' }).variable).toBe('TOKENMETER_READING_CACHE_MB');
  });

  it('reads the port of a worker\'s probes, 0 for one the system picks', () => {
    expect(loadConfig({ TOKENMETER_WORKER_PORT: '9464' }, '/srv').workerPort).toBe(9464);
    expect(loadConfig({ TOKENMETER_WORKER_PORT: '0' }, '/srv').workerPort).toBe(0);
    expect(errorOf({ TOKENMETER_WORKER_PORT: 'metrics' }).message).toBe('TOKENMETER_WORKER_PORT must be a whole number, got "metrics"');
  });

  it('reads the webhook allow-list and timeout', () => {
    const config = loadConfig({ TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1, 10.0.0.0/8 fd00::/8', TOKENMETER_WEBHOOK_TIMEOUT_MS: '2500' }, '/srv');
    expect(config.webhooks).toEqual({ allowPrivate: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'], timeoutMs: 2500 });
  });

  it('reads real services and stripe settings', () => {
    const config = loadConfig(
      {
        PORT: '8080',
        DATABASE_URL: 'postgresql://u@db:5432/tm',
        REDIS_URL: 'redis://cache:6379',
        TOKENMETER_DATA_DIR: '/var/lib/tm',
        TOKENMETER_ADMIN_KEY: 'a-very-long-admin-key-0123456789',
        STRIPE_API_BASE: 'http://127.0.0.1:12111',
        TOKENMETER_API_RUNS_JOBS: 'false',
        TOKENMETER_INGEST_WRITERS_PER_ACCOUNT: '4',
        TOKENMETER_INGEST_MAX_GROUP_EVENTS: '500',
      },
      '/srv',
    );
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: 'postgresql://u@db:5432/tm',
      redisUrl: 'redis://cache:6379',
      dataDir: '/var/lib/tm',
      apiRunsJobs: false,
      stripe: {
        apiBase: 'http://127.0.0.1:12111',
        api: { protocol: 'http', host: '127.0.0.1', port: 12111 },
        secretKey: null,
        webhookSecret: null,
        collectionMethod: 'send_invoice',
        daysUntilDue: 30,
        timeoutMs: 20_000,
      },
      ingest: { writersPerAccount: 4, maxGroupEvents: 500 },
    });
  });

  it('takes STRIPE_API_BASE apart for the SDK, with default ports and bare IPv6 hosts', () => {
    expect(loadConfig({ STRIPE_API_BASE: 'https://stripe.internal' }, '/srv').stripe.api).toEqual({ protocol: 'https', host: 'stripe.internal', port: 443 });
    expect(loadConfig({ STRIPE_API_BASE: 'http://[::1]:8080/' }, '/srv').stripe.api).toEqual({ protocol: 'http', host: '::1', port: 8080 });
    expect(loadConfig({}, '/srv').stripe).toMatchObject({ secretKey: null, api: null });
    expect(
      loadConfig({ STRIPE_SECRET_KEY: 'sk_test_1', TOKENMETER_STRIPE_COLLECTION_METHOD: 'charge_automatically', TOKENMETER_STRIPE_DAYS_UNTIL_DUE: '14' }, '/srv').stripe,
    ).toMatchObject({ secretKey: 'sk_test_1', collectionMethod: 'charge_automatically', daysUntilDue: 14 });
  });

  it.each([
    [{ STRIPE_API_BASE: 'http://127.0.0.1:12111/v1' }, 'STRIPE_API_BASE', 'STRIPE_API_BASE must be a scheme, host and port only, e.g. http://127.0.0.1:12111'],
    [{ TOKENMETER_STRIPE_COLLECTION_METHOD: 'cash' }, 'TOKENMETER_STRIPE_COLLECTION_METHOD', 'TOKENMETER_STRIPE_COLLECTION_METHOD must be one of send_invoice, charge_automatically, got "cash"'],
    [{ PORT: 'eighty' }, 'PORT', 'PORT must be a whole number, got "eighty"'],
    [{ PORT: '70000' }, 'PORT', 'PORT must be between 0 and 65535, got 70000'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', 'DATABASE_URL must use postgres: or postgresql:, got mysql:'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', 'DATABASE_URL must be a URL (postgres:, postgresql:)'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL', 'REDIS_URL must use redis: or rediss:, got http:'],
    [{ TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '10.0.0.0/8,intranet' }, 'TOKENMETER_WEBHOOK_ALLOW_PRIVATE', 'TOKENMETER_WEBHOOK_ALLOW_PRIVATE must be a list of CIDRs or IP addresses, got "intranet"'],
    [{ TOKENMETER_WEBHOOK_TIMEOUT_MS: '10' }, 'TOKENMETER_WEBHOOK_TIMEOUT_MS', 'TOKENMETER_WEBHOOK_TIMEOUT_MS must be between 100 and 60000, got 10'],
    [{ TOKENMETER_ADMIN_KEY: 'short' }, 'TOKENMETER_ADMIN_KEY', 'TOKENMETER_ADMIN_KEY must be 24 to 255 characters with no spaces'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ TOKENMETER_INGEST_WRITERS_PER_ACCOUNT: '0' }, 'TOKENMETER_INGEST_WRITERS_PER_ACCOUNT', 'TOKENMETER_INGEST_WRITERS_PER_ACCOUNT must be between 1 and 64, got 0'],
    [{ TOKENMETER_AUTHORIZE_ANSWER_AFTER: 'later' }, 'TOKENMETER_AUTHORIZE_ANSWER_AFTER', 'TOKENMETER_AUTHORIZE_ANSWER_AFTER must be row or redis, got "later"'],
    [{ TOKENMETER_AUTHORIZE_WRITE_DELAY_MS: '5000' }, 'TOKENMETER_AUTHORIZE_WRITE_DELAY_MS', 'TOKENMETER_AUTHORIZE_WRITE_DELAY_MS must be between 0 and 1000, got 5000'],
    [{ REDIS_URL: 'redis://x', TOKENMETER_API_RUNS_JOBS: 'maybe' }, 'TOKENMETER_API_RUNS_JOBS', 'TOKENMETER_API_RUNS_JOBS must be true or false, got "maybe"'],
  ])('refuses %j naming the variable', (env, variable, message) => {
    const error = errorOf(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(message);
  });

  it('reads REDIS_CLUSTER, which needs REDIS_URL and a queue prefix that is one hash tag', () => {
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:7000', REDIS_CLUSTER: 'true' }, '/srv')).toMatchObject({ redisCluster: true, queuePrefix: '{tokenmeter}' });
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:7000' }, '/srv').redisCluster).toBe(false);
    expect(errorOf({ REDIS_CLUSTER: 'true' }).message).toMatch(/REDIS_CLUSTER.*REDIS_URL/);
    expect(errorOf({ REDIS_URL: 'redis://h:7000', REDIS_CLUSTER: 'true', TOKENMETER_QUEUE_PREFIX: 'tm' }).message).toMatch(/TOKENMETER_QUEUE_PREFIX.*hash tag/);
    expect(errorOf({ REDIS_URL: 'redis://h:7000', REDIS_CLUSTER: 'maybe' }).message).toMatch(/REDIS_CLUSTER/);
  });

  it('treats blank values as unset', () => {
    expect(loadConfig({ DATABASE_URL: '  ', PORT: '' }, '/srv')).toMatchObject({ databaseUrl: null, port: 3000 });
  });
});
