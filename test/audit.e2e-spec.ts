// The audit log: every change recorded with actor, time, before and after; the chain verifies, and a
// tampered, deleted or forged row is reported.
import { DataSource } from 'typeorm';
import { ManualClock } from '../src/clock/clock.js';
import { newAccount, newOrg, startTestApp, type TestApp } from './support/test-app.js';

describe('audit log', () => {
  let t: TestApp;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock('2026-05-01T09:30:00.123Z');
    t = await startTestApp({ clock });
  });
  afterEach(async () => {
    await t?.close();
  });

  it('records changes with actor, millisecond time, before and after', async () => {
    const account = await newAccount(t, { name: 'Before' });
    clock.advance(1500);
    await t.request('PATCH', `/v1/accounts/${account.id}`, { body: { name: 'After', paid_enterprise: true } });
    const res = await t.get(`/v1/audit?account=${account.id}`);
    expect(res.status).toBe(200);
    const [create, update] = res.body.data;
    expect(create).toMatchObject({ action: 'account.create', actor_key_id: 'bootstrap-admin', actor_role: 'admin', before: null });
    expect(update).toMatchObject({
      action: 'account.update',
      occurred_at: '2026-05-01T09:30:01.623Z',
      before: { name: 'Before', paid_enterprise: false },
      after: { name: 'After', paid_enterprise: true },
    });
    expect(res.body.verification).toMatchObject({ valid: true });
  });

  it('records moves of a person between units with the date they took effect', async () => {
    const org = await newOrg(t);
    const target = await t.post(`/v1/accounts/${org.account}/units`, { id: 'platform', name: 'Platform', kind: 'team' });
    expect(target.status).toBe(201);
    clock.advance(86_400_000);
    const move = await t.request('PATCH', `/v1/accounts/${org.account}/people/${org.person}`, {
      key: org.keys.finance,
      body: { unit_id: 'platform', effective_from: '2026-05-01T12:00:00Z' },
    });
    expect(move.status).toBe(200);
    const person = await t.get(`/v1/accounts/${org.account}/people/${org.person}`, org.keys.member);
    expect(person.body.unit_id).toBe('platform');
    expect(person.body.units.map((u: { unit_id: string; effective_from: string }) => [u.unit_id, u.effective_from])).toEqual([
      [org.unit, '2026-05-01T09:30:00.123Z'],
      ['platform', '2026-05-01T12:00:00.000Z'],
    ]);
    // A move dated before the last one would rewrite history: refused.
    const back = await t.request('PATCH', `/v1/accounts/${org.account}/people/${org.person}`, {
      body: { unit_id: org.unit, effective_from: '2026-05-01T10:00:00Z' },
    });
    expect(back.status).toBe(409);
    expect(back.body.error.code).toBe('move_out_of_order');
    const audit = await t.get(`/v1/audit?account=${org.account}&entity_type=person`);
    expect(audit.body.data.map((r: { action: string }) => r.action)).toEqual(['person.create', 'person.move']);
  });

  it('refuses to update or delete audit rows at the database', async () => {
    await newAccount(t);
    const db = t.app.get(DataSource);
    await expect(db.query(`UPDATE audit_log SET action = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.query(`DELETE FROM audit_log`)).rejects.toThrow(/append-only/);
  });

  describe('tampering', () => {
    async function tamper(sql: string): Promise<void> {
      // What an attacker with database access would do: switch the guard trigger off first.
      const db = t.app.get(DataSource);
      await db.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
      await db.query(sql);
      await db.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    }

    beforeEach(async () => {
      for (let i = 0; i < 3; i++) await newAccount(t);
    });

    it('reports a changed row', async () => {
      await tamper(`UPDATE audit_log SET after = jsonb_set(after, '{name}', '"Evil"') WHERE seq = 3`);
      const res = await t.get('/v1/audit');
      expect(res.body.verification).toEqual({ valid: false, rows_checked: 2, first_broken: { seq: 3, reason: 'hash_mismatch' } });
    });

    it('reports a deleted row', async () => {
      await tamper('DELETE FROM audit_log WHERE seq = 2');
      expect((await t.get('/v1/audit')).body.verification.first_broken).toEqual({ seq: 3, reason: 'sequence_gap' });
    });

    it('reports a changed actor', async () => {
      await tamper(`UPDATE audit_log SET actor_role = 'sales' WHERE seq = 2`);
      expect((await t.get('/v1/audit')).body.verification.first_broken).toEqual({ seq: 2, reason: 'hash_mismatch' });
    });

    it('verifies an untouched log', async () => {
      const res = await t.get('/v1/audit');
      expect(res.body.verification).toEqual({ valid: true, rows_checked: 4 });
    });
  });
});
