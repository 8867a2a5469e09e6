// Records every change to configuration, org tree, keys and roles, inside the caller's transaction, so a
// change and its audit row commit together or not at all. Verifies the chain on demand.
import { Inject, Injectable } from '@nestjs/common';
import type { Actor } from '../auth/principal.js';
import { CLOCK, type Clock } from '../clock/clock.js';
import type { Tx } from '../database/data-source.js';
import { verifyChain, type AuditRow, type ChainVerification } from './audit-chain.js';
import { AuditRepository, type AuditQuery } from './audit.repository.js';

export interface AuditChange {
  action: string;
  entityType: string;
  entityId: string;
  accountId: string | null;
  before: unknown;
  after: unknown;
}

@Injectable()
export class AuditService {
  constructor(
    private readonly repository: AuditRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  record(tx: Tx, actor: Actor, change: AuditChange): Promise<AuditRow> {
    return this.repository.append(tx, {
      occurred_at: this.clock.now().toISOString(),
      actor_key_id: actor.keyId,
      actor_role: actor.role,
      actor_account_id: actor.accountId,
      on_behalf_of_person_id: actor.onBehalfOfPersonId,
      action: change.action,
      entity_type: change.entityType,
      entity_id: change.entityId,
      account_id: change.accountId,
      before: change.before ?? null,
      after: change.after ?? null,
    });
  }

  list(query: AuditQuery): Promise<AuditRow[]> {
    return this.repository.list(query);
  }

  async verify(): Promise<ChainVerification> {
    let previous: { seq: number; hash: string } | null = null;
    let checked = 0;
    for await (const page of this.repository.walk()) {
      const result = verifyChain(page, previous);
      if (!result.valid) return { ...result, rows_checked: checked + result.rows_checked };
      checked += page.length;
      const last = page[page.length - 1]!;
      previous = { seq: last.seq, hash: last.hash };
    }
    return { valid: true, rows_checked: checked };
  }
}
