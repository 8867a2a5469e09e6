// The one place that reads the environment: every setting is parsed and validated here, once, at start.
// A bad value stops the start with a ConfigError that names the variable.
import { isAbsolute, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AppConfig {
  port: number;
  host: string;
  /** TOKENMETER_WORKER_PORT: `npm run worker` serves its probes and /metrics here (src/health/probe-server.ts); null: no listener. */
  workerPort: number | null;
  /** null: the embedded PGlite store under dataDir. */
  databaseUrl: string | null;
  /** null: jobs run in-process on the database. */
  redisUrl: string | null;
  /** REDIS_CLUSTER: REDIS_URL names one node of a Redis Cluster (src/redis/redis-client.ts). */
  redisCluster: boolean;
  dataDir: string;
  /**
   * Not read from the environment (always null from loadConfig): tests set it so that each `memory://` store
   * starts from one migrated copy (src/database/embedded-store.ts) instead of an initdb of its own.
   */
  embeddedTemplate: string | null;
  adminKey: string | null;
  /** The `<env>` part of issued keys: `tm_<env>_<id>_<secret>`. */
  keyEnvironment: string;
  logLevel: LogLevel;
  /** How long the guard may use a key it has read (src/auth/key-cache.ts); 0: read it on every request. */
  keyCacheMs: number;
  /** Memory for the closed hours of readings by hour (metering/readings/hourly-readings.ts), in MiB; 0: none. */
  readingCacheMb: number;
  /** Whether the API process also consumes jobs (always true without Redis). */
  apiRunsJobs: boolean;
  shutdownTimeoutMs: number;
  /** Redis key prefix of the job queue; `{...}` hash-tags it for Redis Cluster. */
  queuePrefix: string;
  /**
   * Stripe (billing/stripe). Off (`secretKey` null) unless STRIPE_SECRET_KEY is set: nothing is sent to
   * Stripe and everything else works. `api` is STRIPE_API_BASE taken apart for the SDK (a local fake in
   * tests), null for Stripe itself.
   */
  stripe: {
    secretKey: string | null;
    webhookSecret: string | null;
    apiBase: string | null;
    api: { protocol: 'http' | 'https'; host: string; port: number } | null;
    /** How Stripe collects a mirrored invoice: emailed with a due date, or charged to the saved payment method. */
    collectionMethod: 'send_invoice' | 'charge_automatically';
    /** With `send_invoice`: days until the Stripe invoice is due. */
    daysUntilDue: number;
    /** The longest one Stripe API call may take. */
    timeoutMs: number;
  };
  /** Outgoing webhooks (billing/webhooks). */
  webhooks: {
    /** Address ranges (CIDRs) deliveries may reach although they are not public: on-prem receivers, tests. */
    allowPrivate: string[];
    /** The longest one delivery attempt may take, connecting included. */
    timeoutMs: number;
  };
  /** Group commit of POST /v1/events (metering/ingest/ingest-writer.ts). */
  ingest: {
    /** Groups of one account written at the same time by this process. */
    writersPerAccount: number;
    /** The most events one group may carry (a single request is never split). */
    maxGroupEvents: number;
  };
  /** Authorizations with Redis (billing/authorizations/redis-counters.ts). */
  authorizations: {
    /**
     * `row`: a hold is answered once its reservation row is in PostgreSQL; `redis`: once Redis holds it,
     * the row following in the next group write.
     */
    answerAfter: 'row' | 'redis';
    /** With `answerAfter` `redis`: how long a reservation row may wait for others before its group is written (ms). */
    writeDelayMs: number;
    /** Budget leases (billing/authorizations/hold-leases.ts): a slice holds at most this many estimates; 0 turns them off. */
    leaseHolds: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function optional(env: Env, name: string): string | null {
  const value = env[name];
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return value;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: readonly string[]): string | null {
  const raw = optional(env, name);
  if (raw === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL (${protocols.join(', ')})`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw;
}

function queuePrefix(env: Env): string {
  const value = optional(env, 'TOKENMETER_QUEUE_PREFIX') ?? '{tokenmeter}';
  if (!/^[A-Za-z0-9_{}.-]{1,64}$/.test(value) || value.includes(':')) {
    throw new ConfigError('TOKENMETER_QUEUE_PREFIX', 'must be 1 to 64 letters, digits, _ . - { } (no colon)');
  }
  return value;
}

/** STRIPE_API_BASE as the SDK's `protocol`, `host` and `port` options; a path is refused (the SDK has no base path). */
function stripeApi(apiBase: string | null): AppConfig['stripe']['api'] {
  if (apiBase === null) return null;
  const parsed = new URL(apiBase);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.username !== '') {
    throw new ConfigError('STRIPE_API_BASE', 'must be a scheme, host and port only, e.g. http://127.0.0.1:12111');
  }
  const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
  const port = parsed.port === '' ? (protocol === 'http' ? 80 : 443) : Number(parsed.port);
  // URL keeps an IPv6 host in brackets; the SDK passes the host to http.request, which wants it bare.
  return { protocol, host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = optional(env, name);
  if (raw === null) return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

/** A list of CIDRs or bare addresses, separated by commas or spaces. */
function cidrList(env: Env, name: string): string[] {
  const raw = optional(env, name);
  if (raw === null) return [];
  const entries = raw.split(/[\s,]+/).filter((e) => e !== '');
  for (const entry of entries) {
    if (!ipaddr.isValidCIDR(entry) && !ipaddr.isValid(entry)) {
      throw new ConfigError(name, `must be a list of CIDRs or IP addresses, got "${entry}"`);
    }
  }
  return entries;
}

export function loadConfig(env: Env, cwd: string = process.cwd()): AppConfig {
  const adminKey = optional(env, 'TOKENMETER_ADMIN_KEY');
  if (adminKey !== null && (adminKey.length < 24 || adminKey.length > 255 || /\s/.test(adminKey))) {
    throw new ConfigError('TOKENMETER_ADMIN_KEY', 'must be 24 to 255 characters with no spaces');
  }
  const keyEnvironment = optional(env, 'TOKENMETER_KEY_ENV') ?? 'live';
  if (!/^[a-z0-9]{1,16}$/.test(keyEnvironment)) {
    throw new ConfigError('TOKENMETER_KEY_ENV', 'must be 1 to 16 lowercase letters or digits');
  }
  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const dataDir = optional(env, 'TOKENMETER_DATA_DIR') ?? './.tokenmeter';
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const redisCluster = boolean(env, 'REDIS_CLUSTER', false);
  if (redisCluster && redisUrl === null) throw new ConfigError('REDIS_CLUSTER', 'needs REDIS_URL (one node of the cluster)');
  // A cluster keeps a queue's keys in one slot only under a hash tag.
  if (redisCluster && !/^\{[^{}]+\}$/.test(queuePrefix(env))) {
    throw new ConfigError('TOKENMETER_QUEUE_PREFIX', 'must be one hash tag, like {tokenmeter}, with REDIS_CLUSTER');
  }
  const stripeApiBase = url(env, 'STRIPE_API_BASE', ['http:', 'https:']);
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: optional(env, 'HOST') ?? '0.0.0.0',
    workerPort: optional(env, 'TOKENMETER_WORKER_PORT') === null ? null : integer(env, 'TOKENMETER_WORKER_PORT', 0, 0, 65535),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl,
    redisCluster,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(cwd, dataDir),
    embeddedTemplate: null,
    adminKey,
    keyEnvironment,
    logLevel,
    keyCacheMs: integer(env, 'TOKENMETER_KEY_CACHE_MS', 1000, 0, 60_000),
    readingCacheMb: integer(env, 'TOKENMETER_READING_CACHE_MB', 64, 0, 65_536),
    apiRunsJobs: redisUrl === null ? true : boolean(env, 'TOKENMETER_API_RUNS_JOBS', true),
    shutdownTimeoutMs: integer(env, 'TOKENMETER_SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    queuePrefix: queuePrefix(env),
    stripe: {
      secretKey: optional(env, 'STRIPE_SECRET_KEY'),
      webhookSecret: optional(env, 'STRIPE_WEBHOOK_SECRET'),
      apiBase: stripeApiBase,
      api: stripeApi(stripeApiBase),
      collectionMethod: oneOf(env, 'TOKENMETER_STRIPE_COLLECTION_METHOD', ['send_invoice', 'charge_automatically'] as const, 'send_invoice'),
      daysUntilDue: integer(env, 'TOKENMETER_STRIPE_DAYS_UNTIL_DUE', 30, 0, 365),
      timeoutMs: integer(env, 'TOKENMETER_STRIPE_TIMEOUT_MS', 20_000, 100, 120_000),
    },
    webhooks: {
      allowPrivate: cidrList(env, 'TOKENMETER_WEBHOOK_ALLOW_PRIVATE'),
      timeoutMs: integer(env, 'TOKENMETER_WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    },
    ingest: {
      writersPerAccount: integer(env, 'TOKENMETER_INGEST_WRITERS_PER_ACCOUNT', 2, 1, 64),
      maxGroupEvents: integer(env, 'TOKENMETER_INGEST_MAX_GROUP_EVENTS', 2000, 1, 100_000),
    },
    authorizations: {
      answerAfter: answerAfter(env),
      writeDelayMs: integer(env, 'TOKENMETER_AUTHORIZE_WRITE_DELAY_MS', 5, 0, 1000),
      leaseHolds: integer(env, 'TOKENMETER_AUTHORIZE_LEASE_HOLDS', 256, 0, 10_000),
    },
  };
}

function answerAfter(env: Env): 'row' | 'redis' {
  const value = optional(env, 'TOKENMETER_AUTHORIZE_ANSWER_AFTER') ?? 'redis';
  if (value !== 'row' && value !== 'redis') throw new ConfigError('TOKENMETER_AUTHORIZE_ANSWER_AFTER', `must be row or redis, got "${value}"`);
  return value;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
