// Durable spend of a counter level, read from what ingest writes: the rollups for budgets and agents (by
// the unit at each event's time, so a person who moved leaves their spend where it was made), the account's
// by tier for the plan's tier caps, the events of one session for session caps, and an agent's recent
// events for `auto` estimates.
import { Injectable } from '@nestjs/common';
import { queryRows, type Db } from '../../src/database/sql.js';
import type { Quantity } from './counters.js';
import { parseLevel, type ParsedLevel } from './levels.js';

interface SpendRow {
  amount: string | null;
  tokens: string | null;
}

const TOKENS = 'input + cached_input + cache_write + output';

function quantity(row: SpendRow | undefined): Quantity {
  return { amount: row?.amount ?? '0', tokens: Number(row?.tokens ?? 0) };
}

@Injectable()
export class SpendRepository {
  /**
   * Spend of each level from the rollups (zero for `sessioncap/...`, which spends nothing itself, and for
   * `credits`, whose spend the credit ledger gives through LimitRegistry.withOwnedSpend).
   */
  async spentOf(db: Db, account: string, levels: readonly string[]): Promise<Map<string, Quantity>> {
    const out = new Map<string, Quantity>();
    for (const level of levels) out.set(level, await this.spentOfOne(db, account, parseLevel(level)));
    return out;
  }

  private async spentOfOne(db: Db, account: string, level: ParsedLevel): Promise<Quantity> {
    const one = async (sql: string, params: unknown[]) => quantity((await queryRows<SpendRow>(db, sql, params))[0]);
    switch (level.kind) {
      case 'budget': {
        const range = [account, level.period.start, level.period.end];
        if (level.node.kind === 'account') {
          return one(
            `SELECT (SELECT sum(cost) FROM meter_spend_daily WHERE account_id = $1 AND day >= $2::date AND day < $3::date)::text AS amount,
                    (SELECT sum(${TOKENS}) FROM meter_daily WHERE account_id = $1 AND day >= $2::date AND day < $3::date)::text AS tokens`,
            range,
          );
        }
        if (level.node.kind === 'person') {
          return one(
            `SELECT sum(cost)::text AS amount, sum(${TOKENS})::text AS tokens FROM meter_daily_people
              WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND person_id = $4`,
            [...range, level.node.id],
          );
        }
        // A unit spends what its people spent while in it and in the units below it.
        return one(
          `WITH RECURSIVE tree AS (
             SELECT id FROM units WHERE account_id = $1 AND id = $4
             UNION SELECT u.id FROM units u JOIN tree t ON u.parent_id = t.id WHERE u.account_id = $1)
           SELECT sum(cost)::text AS amount, sum(${TOKENS})::text AS tokens FROM meter_daily_people
            WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND unit_id IN (SELECT id FROM tree)`,
          [...range, level.node.id],
        );
      }
      case 'agent':
        return one(
          `SELECT sum(cost)::text AS amount, sum(${TOKENS})::text AS tokens FROM meter_daily_people
            WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND agent_id = $4`,
          [account, level.period.start, level.period.end, level.agentId],
        );
      case 'session':
        return one(
          `SELECT sum(cost)::text AS amount, sum(${TOKENS})::text AS tokens FROM events WHERE account_id = $1 AND session_id = $2`,
          [account, level.sessionId],
        );
      case 'tier':
        // The account's events of models of that tier in the billing period (whole days: periods start at 00:00 UTC).
        return one(
          `SELECT sum(cost)::text AS amount, sum(${TOKENS})::text AS tokens FROM meter_daily
            WHERE account_id = $1 AND day >= $2::date AND day < $3::date AND tier = $4`,
          [account, level.start, level.end, level.tier],
        );
      case 'sessioncap':
      case 'credits':
        return { amount: '0', tokens: 0 };
    }
  }

  /**
   * Costs of an agent's latest priced events of one operation and model (newest first): at most `limit`
   * of them, among its events since `since`. Reads the agent's events newest first through
   * events_agent_recent and stops after `scan` of them, so an agent busy with other operations costs a
   * bounded read.
   */
  async recentCosts(
    db: Db,
    account: string,
    agentId: string,
    operation: string | null,
    modelId: string,
    since: Date,
    limit: number,
    scan: number,
  ): Promise<{ cost: string; tokens: string }[]> {
    return queryRows(
      db,
      `SELECT cost::text AS cost, tokens::text AS tokens FROM (
         SELECT cost, operation, model_id, ${TOKENS} AS tokens, ts FROM events
          WHERE account_id = $1 AND agent_id = $2 AND ts >= $3
          ORDER BY ts DESC LIMIT $6) recent
        WHERE model_id = $5 AND operation IS NOT DISTINCT FROM $4 AND cost IS NOT NULL
        ORDER BY ts DESC LIMIT $7`,
      [account, agentId, since, operation, modelId, scan, limit],
    );
  }
}
