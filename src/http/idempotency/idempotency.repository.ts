// Only this file touches idempotency_keys: a request takes its key, marks it committed inside its write's
// own transaction, then either stores its answer or gives the key back; a retry reads what the key holds.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../database/data-source.js';
import { firstRow } from '../../database/sql.js';
import { IN_FLIGHT_MS, KEY_TTL_MS, type StoredKey } from './idempotency.js';

/** A key taken by a request: `claim` marks it as this request's, so only it stores or gives it back. */
export interface Claim {
  keyId: string;
  key: string;
  claim: string;
}

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Takes the key for this request, or answers what it holds. A key is taken when it is new, when it has
   * expired (older than a day), or when the request holding it has not answered within IN_FLIGHT_MS (its
   * process died) without committing its write: the row is this request's from then on. A key whose
   * write committed is never taken over within the day, answered or not.
   */
  async take(keyId: string, key: string, fingerprint: string, request: string, now: Date): Promise<{ claim: Claim } | { stored: StoredKey }> {
    // A row given back between the two statements is taken again on the next turn.
    for (;;) {
      const claim = randomUUID();
      const taken = await firstRow<{ claim: string }>(
        this.dataSource,
        `INSERT INTO idempotency_keys AS k (key_id, idempotency_key, claim, fingerprint, request, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key_id, idempotency_key) DO UPDATE
            SET claim = EXCLUDED.claim, fingerprint = EXCLUDED.fingerprint, request = EXCLUDED.request,
                status = NULL, body = NULL, created_at = EXCLUDED.created_at, completed_at = NULL, committed_at = NULL
          WHERE k.created_at <= $7 OR (k.completed_at IS NULL AND k.committed_at IS NULL AND k.created_at <= $8)
         RETURNING claim`,
        [keyId, key, claim, fingerprint, request, now, new Date(now.getTime() - KEY_TTL_MS), new Date(now.getTime() - IN_FLIGHT_MS)],
      );
      if (taken !== null) return { claim: { keyId, key, claim } };
      const stored = await firstRow<StoredKey>(
        this.dataSource,
        `SELECT fingerprint, request, status, body, created_at AS "createdAt", committed_at AS "committedAt"
           FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2`,
        [keyId, key],
      );
      if (stored !== null) return { stored };
    }
  }

  /**
   * Marks the key's write committed, in that write's transaction (`tx`), when the transaction has written
   * anything: a transaction that only read leaves the key as it was.
   */
  async markCommitted(tx: Tx, claim: Claim, now: Date): Promise<void> {
    await tx.query(
      `UPDATE idempotency_keys SET committed_at = COALESCE(committed_at, $4)
        WHERE key_id = $1 AND idempotency_key = $2 AND claim = $3 AND pg_current_xact_id_if_assigned() IS NOT NULL`,
      [claim.keyId, claim.key, claim.claim, now],
    );
  }

  /** Keeps a succeeded request's answer for its retries. */
  async complete(claim: Claim, status: number, body: string | null, now: Date): Promise<void> {
    await this.dataSource.query(
      `UPDATE idempotency_keys SET status = $4, body = $5, completed_at = $6
        WHERE key_id = $1 AND idempotency_key = $2 AND claim = $3 AND completed_at IS NULL`,
      [claim.keyId, claim.key, claim.claim, status, body, now],
    );
  }

  /** Gives the key back after a request that failed: its retry runs again. */
  async release(claim: Claim): Promise<void> {
    await this.dataSource.query(
      'DELETE FROM idempotency_keys WHERE key_id = $1 AND idempotency_key = $2 AND claim = $3 AND completed_at IS NULL',
      [claim.keyId, claim.key, claim.claim],
    );
  }

  /** Forgets keys taken before `before`; answers how many. */
  async prune(before: Date): Promise<number> {
    const row = await firstRow<{ n: number }>(
      this.dataSource,
      'WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone',
      [before],
    );
    return row?.n ?? 0;
  }
}
