// Medium and end-to-end tests run the real app against a real store: a fresh database on DATABASE_URL
// (and a fresh queue prefix on REDIS_URL) when set, an in-memory embedded store otherwise.
import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamicModule, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { openDatabase, runMigrations } from '../../src/database/data-source.js';
import { ManualClock, type Clock } from '../../src/clock/clock.js';
import { JOB_BACKEND, type JobBackend } from '../../src/jobs/jobs.js';
import { Contract, type ObservedResponse } from './contract.js';

let counter = 0;
const contracts = new Map<string, Contract>();

export function testRunId(): string {
  return process.env.TOKENMETER_TEST_RUN ?? `tmt_${process.pid}`;
}

/**
 * A name part no other app of this run has: jest gives each test file its own copy of this module, so the
 * counter starts again at 1 in every file of a `--runInBand` run (one pid); the random part tells them apart
 * (two bytes did not: two files' first databases once got the same name in CI, one in 65,536 per pair).
 */
const unique = () => `${process.pid}_${++counter}_${randomBytes(5).toString('hex')}`;

/** `base` with another database name. */
function databaseUrlOf(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The run's migrated database, made by its first test database and copied for every later one (the
 * embedded stores' copy is `embeddedTemplate`): CREATE DATABASE ... TEMPLATE copies its files, where each
 * app would otherwise apply every migration to an empty one. Found by name, since jest gives each test file
 * its own module registry; dropped with the run's other databases by the global teardown.
 */
async function migratedTemplate(admin: pg.Client, base: string): Promise<string> {
  const name = `${testRunId()}_template`.toLowerCase();
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rowCount === 0) {
    const building = `${name}_${process.pid}_${randomBytes(3).toString('hex')}`;
    await admin.query(`CREATE DATABASE "${building}"`);
    const db = await openDatabase({ url: databaseUrlOf(base, building), dataDir: 'unused', poolSize: 1 });
    try {
      await runMigrations(db.dataSource);
    } finally {
      await db.close();
    }
    // Named only once migrated: a run stopped halfway leaves no half-built template to copy.
    await admin.query(`ALTER DATABASE "${building}" RENAME TO "${name}"`);
  }
  return name;
}

/** A new database on the configured server with every migration applied, dropped by the global teardown. */
export async function createTestDatabase(): Promise<string> {
  const base = process.env.DATABASE_URL!;
  const name = `${testRunId()}_${unique()}`.toLowerCase();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${await migratedTemplate(admin, base)}"`);
  } finally {
    await admin.end();
  }
  return databaseUrlOf(base, name);
}

export interface TestAppOptions {
  clock?: Clock;
  env?: Record<string, string>;
  extraModules?: (Type | DynamicModule)[];
  /** Use this database instead of a new one (to restart an app on the same data). */
  databaseUrl?: string | null;
  dataDir?: string;
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
  text: string;
}

export class TestApp {
  private contractOnce: Promise<Contract> | undefined;

  constructor(
    readonly app: NestFastifyApplication,
    readonly config: AppConfig,
    readonly adminKey: string,
  ) {}

  /** The OpenAPI document this app serves, compiled once; every response `request` gets is checked against it. */
  contract(): Promise<Contract> {
    this.contractOnce ??= this.app.inject({ method: 'GET', url: '/docs-json' }).then((res) => {
      if (res.statusCode !== 200) throw new Error(`GET /docs-json answered ${res.statusCode}`);
      // Apps of one test file serve the same document: its validators are compiled once for all of them.
      let contract = contracts.get(res.body);
      if (contract === undefined) contracts.set(res.body, (contract = new Contract(res.json())));
      return contract;
    });
    return this.contractOnce;
  }

  /** Checks a response received some other way (fetch on a listening app) against the contract. */
  async checkResponse(response: Omit<ObservedResponse, 'routed'>): Promise<void> {
    const path = response.url.split('?')[0]!;
    const routed = this.app.getHttpAdapter().getInstance().findRoute({ method: response.method as 'GET', url: path }) !== null;
    (await this.contract()).check({ ...response, routed });
  }

  async request<T = any>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    options: { key?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? this.adminKey : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | undefined;
    if (options.rawBody !== undefined) {
      payload = options.rawBody;
      headers['content-type'] ??= 'application/json';
    } else if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await this.app.inject({ method, url, headers, payload });
    const contentType = res.headers['content-type'] === undefined ? undefined : String(res.headers['content-type']);
    let body: unknown = res.body;
    if (String(contentType ?? '').includes('application/json') && res.body !== '') body = res.json();
    await this.checkResponse({ method, url, status: res.statusCode, contentType, body });
    return { status: res.statusCode, body: body as T, headers: res.headers as Record<string, unknown>, text: res.body };
  }

  get<T = any>(url: string, key?: string | null) {
    return this.request<T>('GET', url, { key });
  }
  post<T = any>(url: string, body: unknown, key?: string | null) {
    return this.request<T>('POST', url, { body, key });
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}

export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const adminKey = `test-admin-${randomBytes(16).toString('hex')}`;
  const usePostgres = options.databaseUrl !== null && (options.databaseUrl !== undefined || !!process.env.DATABASE_URL);
  const databaseUrl = usePostgres ? (options.databaseUrl ?? (await createTestDatabase())) : null;
  const env: Record<string, string | undefined> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    TOKENMETER_ADMIN_KEY: adminKey,
    TOKENMETER_DATA_DIR: options.dataDir ?? 'memory://',
    DATABASE_URL: databaseUrl ?? undefined,
    REDIS_URL: process.env.REDIS_URL,
    TOKENMETER_QUEUE_PREFIX: `{${testRunId()}_${unique()}}`,
    ...options.env,
  };
  const config = loadConfig(env);
  // memory:// is not a path; keep it verbatim for the embedded store, which starts from the run's copy.
  if (env.TOKENMETER_DATA_DIR === 'memory://') {
    config.dataDir = 'memory://';
    if (databaseUrl === null) config.embeddedTemplate = await embeddedTemplate();
  }
  const app = await createApp({
    config,
    clock: options.clock ?? new ManualClock('2026-03-15T12:00:00.000Z'),
    role: 'api',
    extraModules: options.extraModules,
  });
  return new TestApp(app, config, adminKey);
}

/**
 * A copy of an embedded store with every migration applied, made by the run's first embedded app and used by
 * every later one: a new PGlite store spends seconds in initdb and the migrations (some 5 s on a busy
 * machine late in the suite, against well under one from the copy), and app starts were what timed out
 * late in CI's embedded run. A file, since jest gives each test file its own module registry.
 */
async function embeddedTemplate(): Promise<string> {
  // Named by the global setup; a file of the run's own when the tests run without it.
  const file = process.env.TOKENMETER_TEST_TEMPLATE ?? join(tmpdir(), `${testRunId()}.embedded-template.tar`);
  if (existsSync(file)) return file;
  const db = await openDatabase({ url: null, dataDir: 'memory://' });
  try {
    await runMigrations(db.dataSource);
    const dump = await db.embedded!.dump();
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  } finally {
    await db.close();
  }
  return file;
}

/** Small factories over the public API, so tests read as what a user does. */
export async function newAccount(t: TestApp, overrides: Record<string, unknown> = {}): Promise<{ id: string }> {
  const id = `acct-${randomBytes(4).toString('hex')}`;
  const res = await t.post('/v1/accounts', { id, name: `Account ${id}`, currency: 'EUR', ...overrides });
  if (res.status !== 201) throw new Error(`newAccount: ${res.status} ${res.text}`);
  return res.body as { id: string };
}

export async function newUnit(t: TestApp, account: string, overrides: Record<string, unknown> = {}) {
  const id = `unit-${randomBytes(3).toString('hex')}`;
  const res = await t.post(`/v1/accounts/${account}/units`, { id, name: id, kind: 'team', ...overrides });
  if (res.status !== 201) throw new Error(`newUnit: ${res.status} ${res.text}`);
  return res.body as { id: string };
}

export async function newPerson(t: TestApp, account: string, unitId: string, overrides: Record<string, unknown> = {}) {
  const id = `person-${randomBytes(3).toString('hex')}`;
  const res = await t.post(`/v1/accounts/${account}/people`, { id, name: id, unit_id: unitId, ...overrides });
  if (res.status !== 201) throw new Error(`newPerson: ${res.status} ${res.text}`);
  return res.body as { id: string; unit_id: string };
}

export async function newAgent(t: TestApp, account: string, ownerId: string) {
  const id = `agent-${randomBytes(3).toString('hex')}`;
  const res = await t.post(`/v1/accounts/${account}/agents`, { id, name: id, owner_person_id: ownerId });
  if (res.status !== 201) throw new Error(`newAgent: ${res.status} ${res.text}`);
  return res.body as { id: string };
}

export async function newKey(
  t: TestApp,
  body: { role: string; account?: string; person_id?: string; agent_id?: string },
  issuer?: string,
): Promise<{ id: string; secret: string }> {
  const res = await t.post('/v1/api-keys', { name: `${body.role} key`, ...body }, issuer);
  if (res.status !== 201) throw new Error(`newKey: ${res.status} ${res.text}`);
  return res.body as { id: string; secret: string };
}

/** An account with a unit, a person, their agent and a key of every role. */
export async function newOrg(t: TestApp, accountOverrides: Record<string, unknown> = {}) {
  const account = await newAccount(t, accountOverrides);
  const unit = await newUnit(t, account.id);
  const person = await newPerson(t, account.id, unit.id);
  const agent = await newAgent(t, account.id, person.id);
  const keys = {
    admin: t.adminKey,
    sales: (await newKey(t, { role: 'sales' })).secret,
    finance: (await newKey(t, { role: 'finance', account: account.id })).secret,
    member: (await newKey(t, { role: 'member', account: account.id, person_id: person.id })).secret,
    agent: (await newKey(t, { role: 'agent', account: account.id, agent_id: agent.id })).secret,
  };
  return { account: account.id, unit: unit.id, person: person.id, agent: agent.id, keys };
}

/** An app on `clock` where no job runs by itself (see startListeningAppWithoutJobs). */
export async function startAppWithoutJobs(clock: Clock): Promise<TestApp> {
  const t = await startTestApp({ clock, env: { TOKENMETER_API_RUNS_JOBS: 'false' } });
  const jobs = t.app.get<JobBackend>(JOB_BACKEND);
  if (jobs.kind === 'database') await jobs.stop();
  return t;
}

/**
 * An app on `clock`, listening on a local port, where no job runs by itself: with Redis the API consumes no
 * jobs, and the database backend (which an API without Redis always consumes) stops taking them. What a job
 * would do (the settle job granting an allowance, say) happens only when the test calls it.
 */
export async function startListeningAppWithoutJobs(clock: Clock): Promise<{ t: TestApp; url: string }> {
  const t = await startAppWithoutJobs(clock);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, url: `http://127.0.0.1:${(t.app.getHttpServer().address() as { port: number }).port}` };
}
