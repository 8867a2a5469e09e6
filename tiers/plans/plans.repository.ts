// Only this file touches plans and plan_versions. Versions are inserted, never updated.
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../../src/database/data-source.js';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { OveragePolicy, VolumeTier } from '../pricing/period-pricing.js';
import { DEFAULT_INVOICE_GRACE_MINUTES, type PlanVersionTerms, type TierCaps, type TopupPack } from './plan-terms.js';

export interface PlanVersion {
  plan_id: string;
  version: number;
  name: string | null;
  currency: string;
  base_fee: string;
  waive_base_fee_for_paid_enterprise: boolean;
  included_allowance: string;
  overage_policy: OveragePolicy;
  topup_packs: TopupPack[];
  tier_caps: TierCaps | null;
  volume_discount: VolumeTier[] | null;
  ineffective_credit_pct: string;
  /** How long an invoice of a closed period stays a draft. */
  invoice_grace_minutes: number;
  /** Set on a version published by a rollback: the version it copies. */
  rolled_back_from: number | null;
  created_at: Date;
  created_by: string | null;
}

export interface PlanSummary {
  id: string;
  latest_version: number;
  created_at: Date;
}

const TERM_COLUMNS = `name, currency, base_fee, waive_base_fee_for_paid_enterprise, included_allowance, overage_policy,
  topup_packs, tier_caps, volume_discount, ineffective_credit_pct, invoice_grace_minutes`;
const COLUMNS = `plan_id, version, ${TERM_COLUMNS}, rolled_back_from, created_at, created_by`;

@Injectable()
export class PlansRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Creates the plan row if needed and locks it: its latest_version orders concurrent publishers. */
  async lockPlan(tx: Tx, id: string, now: Date): Promise<PlanSummary> {
    await tx.query('INSERT INTO plans (id, latest_version, created_at) VALUES ($1, 0, $2) ON CONFLICT (id) DO NOTHING', [id, now]);
    const rows = await queryRows<PlanSummary>(tx, 'SELECT id, latest_version, created_at FROM plans WHERE id = $1 FOR UPDATE', [id]);
    return rows[0]!;
  }

  async findPlanForUpdate(tx: Tx, id: string): Promise<PlanSummary | null> {
    const rows = await queryRows<PlanSummary>(tx, 'SELECT id, latest_version, created_at FROM plans WHERE id = $1 FOR UPDATE', [id]);
    return rows[0] ?? null;
  }

  async setLatest(tx: Tx, id: string, version: number): Promise<void> {
    await tx.query('UPDATE plans SET latest_version = $2 WHERE id = $1', [id, version]);
  }

  async insertVersion(
    tx: Tx,
    planId: string,
    version: number,
    terms: PlanVersionTerms,
    createdAt: Date,
    createdBy: string | null,
  ): Promise<PlanVersion> {
    const rows = await queryRows<PlanVersion>(
      tx,
      `INSERT INTO plan_versions (plan_id, version, ${TERM_COLUMNS}, rolled_back_from, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15) RETURNING ${COLUMNS}`,
      [
        planId,
        version,
        terms.name,
        terms.currency,
        terms.base_fee,
        terms.waive_base_fee_for_paid_enterprise,
        terms.included_allowance,
        terms.overage_policy,
        JSON.stringify(terms.topup_packs),
        terms.tier_caps === null ? null : JSON.stringify(terms.tier_caps),
        terms.volume_discount === undefined ? null : JSON.stringify(terms.volume_discount),
        terms.ineffective_credit_pct,
        terms.invoice_grace_minutes ?? DEFAULT_INVOICE_GRACE_MINUTES,
        createdAt,
        createdBy,
      ],
    );
    return rows[0]!;
  }

  /** Publishes a column-for-column copy of `from` as `version`: a rollback restores terms exactly. */
  async copyVersion(tx: Tx, planId: string, from: number, version: number, createdAt: Date, createdBy: string | null): Promise<PlanVersion | null> {
    const rows = await queryRows<PlanVersion>(
      tx,
      `INSERT INTO plan_versions (plan_id, version, ${TERM_COLUMNS}, rolled_back_from, created_at, created_by)
       SELECT plan_id, $3, ${TERM_COLUMNS}, version, $4, $5 FROM plan_versions WHERE plan_id = $1 AND version = $2
       RETURNING ${COLUMNS}`,
      [planId, from, version, createdAt, createdBy],
    );
    return rows[0] ?? null;
  }

  async findVersion(planId: string, version: number, db: Db = this.dataSource): Promise<PlanVersion | null> {
    const rows = await queryRows<PlanVersion>(db, `SELECT ${COLUMNS} FROM plan_versions WHERE plan_id = $1 AND version = $2`, [planId, version]);
    return rows[0] ?? null;
  }

  async findLatest(planId: string, db: Db = this.dataSource): Promise<PlanVersion | null> {
    const rows = await queryRows<PlanVersion>(
      db,
      `SELECT ${COLUMNS} FROM plan_versions WHERE plan_id = $1 ORDER BY version DESC LIMIT 1`,
      [planId],
    );
    return rows[0] ?? null;
  }

  async listVersions(planId: string, db: Db = this.dataSource): Promise<PlanVersion[]> {
    return queryRows<PlanVersion>(db, `SELECT ${COLUMNS} FROM plan_versions WHERE plan_id = $1 ORDER BY version`, [planId]);
  }

  /** The ids of the published plans whose length is within `spread` of `length` (the candidates of a typo). */
  async planIdsNear(length: number, spread: number, db: Db = this.dataSource): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(db, 'SELECT id FROM plans WHERE latest_version > 0 AND abs(length(id) - $1) <= $2 ORDER BY id LIMIT 10000', [length, spread]);
    return rows.map((r) => r.id);
  }

  async listPlans(after: string | null, limit: number): Promise<PlanSummary[]> {
    return queryRows<PlanSummary>(
      this.dataSource,
      'SELECT id, latest_version, created_at FROM plans WHERE latest_version > 0 AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
      [after, limit],
    );
  }
}
