import { canonicalJson, GENESIS_HASH, hashAuditRow, verifyChain, type AuditContent, type AuditRow } from './audit-chain.js';

function chain(contents: AuditContent[]): AuditRow[] {
  let prev = GENESIS_HASH;
  return contents.map((c) => {
    const hash = hashAuditRow(c, prev);
    const row = { ...c, prev_hash: prev, hash };
    prev = hash;
    return row;
  });
}

function content(seq: number, after: unknown): AuditContent {
  return {
    seq,
    occurred_at: `2026-01-01T00:00:0${seq}.123Z`,
    actor_key_id: 'k1',
    actor_role: 'admin',
    actor_account_id: null,
    on_behalf_of_person_id: null,
    action: 'account.create',
    entity_type: 'account',
    entity_id: `acme-${seq}`,
    account_id: `acme-${seq}`,
    before: null,
    after,
  };
}

describe('audit chain', () => {
  it('hashes independently of key order, as jsonb would return it', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    const a = hashAuditRow(content(1, { name: 'Acme', currency: 'EUR' }), GENESIS_HASH);
    const b = hashAuditRow(content(1, { currency: 'EUR', name: 'Acme' }), GENESIS_HASH);
    expect(a).toBe(b);
  });

  it('verifies an intact chain', () => {
    const rows = chain([content(1, { n: 1 }), content(2, { n: 2 }), content(3, { n: 3 })]);
    expect(verifyChain(rows)).toEqual({ valid: true, rows_checked: 3 });
  });

  it('reports the first tampered row', () => {
    const rows = chain([content(1, { n: 1 }), content(2, { n: 2 }), content(3, { n: 3 })]);
    rows[1] = { ...rows[1]!, after: { n: 20 } };
    expect(verifyChain(rows)).toEqual({
      valid: false,
      rows_checked: 1,
      first_broken: { seq: 2, reason: 'hash_mismatch' },
    });
  });

  it('reports a row rewritten with a fresh hash as a broken link after it', () => {
    const rows = chain([content(1, { n: 1 }), content(2, { n: 2 }), content(3, { n: 3 })]);
    const forged = { ...rows[1]!, after: { n: 20 } };
    forged.hash = hashAuditRow(forged, forged.prev_hash);
    rows[1] = forged;
    expect(verifyChain(rows).first_broken).toEqual({ seq: 3, reason: 'broken_link' });
  });

  it('reports a deleted row as a sequence gap', () => {
    const rows = chain([content(1, { n: 1 }), content(2, { n: 2 }), content(3, { n: 3 })]);
    expect(verifyChain([rows[0]!, rows[2]!]).first_broken).toEqual({ seq: 3, reason: 'sequence_gap' });
  });

  it('continues from a previous page', () => {
    const rows = chain([content(1, { n: 1 }), content(2, { n: 2 }), content(3, { n: 3 })]);
    expect(verifyChain(rows.slice(1), { seq: 1, hash: rows[0]!.hash }).valid).toBe(true);
  });
});
