// The embedded store on local disk: data and queued jobs survive a restart, and a first start without
// TOKENMETER_ADMIN_KEY leaves an admin key in the data folder.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Injectable, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { defineJob, JobHandler, JobQueue } from '../src/jobs/jobs.js';
import { newAccount, startTestApp } from './support/test-app.js';

const remember = defineJob<{ note: string }>('test.remember');
const ran: string[] = [];

@Injectable()
class Remember {
  @JobHandler(remember)
  async run(payload: { note: string }): Promise<void> {
    ran.push(payload.note);
  }
}
@Module({ providers: [Remember] })
class RememberModule {}

async function waitFor(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('embedded store on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const embedded = (clock = new ManualClock('2026-07-01T00:00:00Z'), env: Record<string, string> = {}) =>
    startTestApp({ databaseUrl: null, dataDir: dir, clock, env: { REDIS_URL: '', ...env }, extraModules: [RememberModule] });

  it('keeps accounts across a restart', async () => {
    const first = await embedded();
    const account = await newAccount(first, { name: 'Persistent' });
    await first.close();
    const second = await embedded();
    try {
      expect((await second.get(`/v1/accounts/${account.id}`)).body).toMatchObject({ id: account.id, name: 'Persistent' });
      expect((await second.get('/v1/audit')).body.verification.valid).toBe(true);
    } finally {
      await second.close();
    }
  }, 180_000);

  it('runs a job queued before a crash after the restart', async () => {
    const clock = new ManualClock('2026-07-01T00:00:00Z');
    const first = await embedded(clock);
    // Due in an hour: still queued when the process goes away.
    await first.app.get(JobQueue).enqueue(remember, { note: 'queued-before-crash' }, { runAt: new Date('2026-07-01T01:00:00Z') });
    // And one that was mid-run when the process died.
    await first.app.get(DataSource).query(
      `INSERT INTO jobs (name, payload, run_at, status, attempts, locked_until, created_at)
       VALUES ('test.remember', '{"note":"running-at-crash"}', $1, 'running', 1, $2, $1)`,
      [clock.now(), new Date('2026-07-01T00:05:00Z')],
    );
    await first.close();
    expect(ran).toEqual([]);
    clock.set('2026-07-01T02:00:00Z');
    const second = await embedded(clock);
    try {
      await waitFor(() => ran.length === 2);
      expect(ran.sort()).toEqual(['queued-before-crash', 'running-at-crash']);
    } finally {
      await second.close();
    }
  }, 180_000);

  it('writes a first admin key to the data folder when none is configured, once', async () => {
    const first = await embedded(undefined, { TOKENMETER_ADMIN_KEY: '' });
    const file = join(dir, 'admin-key');
    const key = readFileSync(file, 'utf8').trim();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await first.get('/v1/accounts', key)).status).toBe(200);
    await first.close();
    const second = await embedded(undefined, { TOKENMETER_ADMIN_KEY: '' });
    try {
      expect(readFileSync(file, 'utf8').trim()).toBe(key);
      expect((await second.get('/v1/accounts', key)).status).toBe(200);
    } finally {
      await second.close();
    }
  }, 180_000);
});
