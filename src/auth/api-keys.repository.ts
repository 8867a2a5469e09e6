// Only this file touches the api_keys table.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryPrepared, queryRows } from '../database/sql.js';
import type { Tx } from '../database/data-source.js';
import type { Role } from './principal.js';

export interface ApiKeyRecord {
  id: string;
  role: Role;
  account_id: string | null;
  person_id: string | null;
  agent_id: string | null;
  name: string;
  created_at: Date;
  created_by: string | null;
  revoked_at: Date | null;
}

/** A key with what the guard needs to decide: its digest and whether its person or agent is still active. */
export interface KeyForAuth extends ApiKeyRecord {
  secret_digest: Buffer;
  person_active: boolean | null;
  agent_active: boolean | null;
  agent_owner_person_id: string | null;
  owner_active: boolean | null;
}

const PUBLIC_COLUMNS = 'k.id, k.role, k.account_id, k.person_id, k.agent_id, k.name, k.created_at, k.created_by, k.revoked_at';

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findForAuth(id: string): Promise<KeyForAuth | null> {
    const rows = (await queryPrepared<KeyForAuth>(this.dataSource, `SELECT ${PUBLIC_COLUMNS}, k.secret_digest,
              p.active AS person_active, a.active AS agent_active,
              a.owner_person_id AS agent_owner_person_id, o.active AS owner_active
         FROM api_keys k
         LEFT JOIN people p ON p.account_id = k.account_id AND p.id = k.person_id
         LEFT JOIN agents a ON a.account_id = k.account_id AND a.id = k.agent_id
         LEFT JOIN people o ON o.account_id = a.account_id AND o.id = a.owner_person_id
        WHERE k.id = $1`,
      [id],
    ));
    return rows[0] ?? null;
  }

  async find(tx: Tx, id: string): Promise<(ApiKeyRecord & { agent_owner_person_id: string | null }) | null> {
    const rows = (await tx.query(
      `SELECT ${PUBLIC_COLUMNS}, a.owner_person_id AS agent_owner_person_id
         FROM api_keys k LEFT JOIN agents a ON a.account_id = k.account_id AND a.id = k.agent_id
        WHERE k.id = $1`,
      [id],
    )) as (ApiKeyRecord & { agent_owner_person_id: string | null })[];
    return rows[0] ?? null;
  }

  async insert(
    tx: Tx,
    key: Omit<ApiKeyRecord, 'revoked_at'> & { secret_digest: Buffer },
  ): Promise<ApiKeyRecord> {
    const rows = (await queryRows<ApiKeyRecord>(tx, `INSERT INTO api_keys (id, role, account_id, person_id, agent_id, name, secret_digest, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       RETURNING id, role, account_id, person_id, agent_id, name, created_at, created_by, revoked_at`,
      [key.id, key.role, key.account_id, key.person_id, key.agent_id, key.name, key.secret_digest, key.created_at, key.created_by],
    ));
    return rows[0]!;
  }

  /** Sets the digest of a fixed-id key (the bootstrap admin), creating or un-revoking it. Returns whether it changed. */
  async upsertDigest(tx: Tx, id: string, role: Role, name: string, digest: Buffer, now: Date): Promise<boolean> {
    const rows = (await queryRows<{ id: string }>(tx, `INSERT INTO api_keys (id, role, name, secret_digest, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, 'system')
       ON CONFLICT (id) DO UPDATE SET secret_digest = EXCLUDED.secret_digest, revoked_at = NULL
         WHERE api_keys.secret_digest <> EXCLUDED.secret_digest OR api_keys.revoked_at IS NOT NULL
       RETURNING id`,
      [id, role, name, digest, now],
    ));
    return rows.length > 0;
  }

  async revoke(tx: Tx, id: string, now: Date): Promise<ApiKeyRecord | null> {
    const rows = (await queryRows<ApiKeyRecord>(tx, `UPDATE api_keys k SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
       RETURNING ${PUBLIC_COLUMNS}`,
      [id, now],
    ));
    return rows[0] ?? null;
  }

  async list(accountId: string | null): Promise<ApiKeyRecord[]> {
    return (await queryRows<ApiKeyRecord>(this.dataSource, `SELECT ${PUBLIC_COLUMNS} FROM api_keys k WHERE ($1::text IS NULL OR k.account_id = $1) ORDER BY k.created_at, k.id`,
      [accountId],
    ));
  }

  /** The keys of the agents a person owns in an account (what that person, a member, may revoke), oldest first. */
  async ofOwnedAgents(accountId: string, personId: string): Promise<ApiKeyRecord[]> {
    return queryRows<ApiKeyRecord>(
      this.dataSource,
      `SELECT ${PUBLIC_COLUMNS} FROM api_keys k JOIN agents a ON a.account_id = k.account_id AND a.id = k.agent_id
        WHERE k.account_id = $1 AND k.role = 'agent' AND a.owner_person_id = $2 ORDER BY k.created_at, k.id`,
      [accountId, personId],
    );
  }

  async countActiveAdmins(tx: Tx): Promise<number> {
    const rows = (await queryRows<{ n: number }>(tx, `SELECT count(*)::int AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`,
    ));
    return rows[0]!.n;
  }
}
