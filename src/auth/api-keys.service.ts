// Issues and revokes API keys. An admin issues any key; a person (member key) issues keys only for
// agents they own. The secret is returned once and never stored.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AccountsRepository } from '../accounts/accounts.repository.js';
import { AuditService } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { CLOCK, type Clock } from '../clock/clock.js';
import type { Tx } from '../database/data-source.js';
import { TransactionRunner } from '../database/transactions.js';
import { BOOTSTRAP_KEY_ID, digestKey, issueKey } from './api-key.js';
import type { CreateApiKeyBody } from './api-keys.schemas.js';
import { KeyCache } from './key-cache.js';
import { ApiKeysRepository, type ApiKeyRecord } from './api-keys.repository.js';
import { AuthError, AuthErrorCode as Code } from './auth.errors.js';
import { actorOf, aRole, OPERATOR_ROLES, SYSTEM_ACTOR, type Principal, type Role } from './principal.js';

export interface ApiKeyView {
  id: string;
  role: Role;
  account: string | null;
  person_id: string | null;
  agent_id: string | null;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

export function viewOf(k: ApiKeyRecord): ApiKeyView {
  return {
    id: k.id,
    role: k.role,
    account: k.account_id,
    person_id: k.person_id,
    agent_id: k.agent_id,
    name: k.name,
    created_at: k.created_at,
    revoked_at: k.revoked_at,
  };
}

const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

function invalid(message: string, field?: string): AuthError {
  return new AuthError(Code.InvalidKeyRequest, message, field ? { field } : {});
}

@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger('api-keys');

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly accounts: AccountsRepository,
    private readonly transactions: TransactionRunner,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keyCache: KeyCache,
  ) {}

  create(principal: Principal, body: CreateApiKeyBody): Promise<ApiKeyView & { secret: string }> {
    if (principal.role !== 'admin' && !(principal.role === 'member' && body.role === 'agent')) {
      throw new AuthError(Code.Forbidden, 'Only an admin issues keys; a person issues keys only for their own agents.');
    }
    return this.transactions.run(async (tx) => {
      const binding = await this.checkBinding(tx, principal, body);
      const issued = issueKey(this.config.keyEnvironment);
      const record = await this.keys.insert(tx, {
        id: issued.id,
        role: body.role,
        account_id: binding.accountId,
        person_id: binding.personId,
        agent_id: binding.agentId,
        name: body.name,
        secret_digest: issued.digest,
        created_at: this.clock.now(),
        created_by: principal.keyId,
      });
      await this.audit.record(tx, actorOf(principal), {
        action: 'api_key.create',
        entityType: 'api_key',
        entityId: record.id,
        accountId: record.account_id,
        before: null,
        after: viewOf(record),
      });
      return { ...viewOf(record), secret: issued.secret };
    });
  }

  /** What the key will be bound to; refuses anything the issuer could not do themselves. */
  private async checkBinding(
    tx: Tx,
    principal: Principal,
    body: CreateApiKeyBody,
  ): Promise<{ accountId: string | null; personId: string | null; agentId: string | null }> {
    if (OPERATOR_ROLES.includes(body.role)) {
      if (body.account !== undefined || body.person_id !== undefined || body.agent_id !== undefined) {
        throw invalid(`${capitalised(aRole(body.role))} key is not bound to an account, a person or an agent.`);
      }
      return { accountId: null, personId: null, agentId: null };
    }
    const accountId = principal.accountId ?? body.account;
    if (accountId === undefined) throw invalid(`${capitalised(aRole(body.role))} key needs an account.`, 'account');
    if (body.account !== undefined && body.account !== accountId) {
      throw new AuthError(Code.AccountNotFound, `Account "${body.account}" was not found.`, { field: 'account' });
    }
    if (!(await this.accounts.findAccount(accountId, tx))) {
      throw new AuthError(Code.AccountNotFound, `Account "${accountId}" was not found.`, { field: 'account' });
    }
    if (body.role === 'finance') {
      if (body.person_id !== undefined || body.agent_id !== undefined) throw invalid('A finance key is bound to an account only.');
      return { accountId, personId: null, agentId: null };
    }
    if (body.role === 'member') {
      if (body.agent_id !== undefined) throw invalid('A member key is bound to a person, not an agent.', 'agent_id');
      if (body.person_id === undefined) throw invalid('A member key needs a person_id.', 'person_id');
      const person = await this.accounts.findPerson(accountId, body.person_id, tx);
      if (!person || !person.active) throw invalid(`Person "${body.person_id}" does not exist or is inactive.`, 'person_id');
      return { accountId, personId: person.id, agentId: null };
    }
    if (body.person_id !== undefined) throw invalid('An agent key is bound to an agent; its person is the agent owner.', 'person_id');
    if (body.agent_id === undefined) throw invalid('An agent key needs an agent_id.', 'agent_id');
    const agent = await this.accounts.findAgent(accountId, body.agent_id, tx);
    if (!agent || !agent.active) throw invalid(`Agent "${body.agent_id}" does not exist or is inactive.`, 'agent_id');
    if (principal.role === 'member' && agent.owner_person_id !== principal.personId) {
      throw invalid(`Agent "${body.agent_id}" is not yours.`, 'agent_id');
    }
    return { accountId, personId: null, agentId: agent.id };
  }

  async revoke(principal: Principal, id: string): Promise<ApiKeyView> {
    const view = await this.transactions.run(async (tx) => {
      const key = await this.keys.find(tx, id);
      const mayRevoke =
        key !== null &&
        (principal.role === 'admin' ||
          (principal.role === 'member' &&
            key.role === 'agent' &&
            key.account_id === principal.accountId &&
            key.agent_owner_person_id === principal.personId));
      if (!key || !mayRevoke) throw new AuthError(Code.KeyNotFound, `API key "${id}" was not found.`);
      if (key.revoked_at !== null) return viewOf(key);
      const revoked = (await this.keys.revoke(tx, id, this.clock.now()))!;
      await this.audit.record(tx, actorOf(principal), {
        action: 'api_key.revoke',
        entityType: 'api_key',
        entityId: id,
        accountId: key.account_id,
        before: viewOf(key),
        after: viewOf(revoked),
      });
      return viewOf(revoked);
    });
    // Committed: the guard must not go on admitting the key from what it remembers.
    this.keyCache.forgetAll();
    return view;
  }

  /** The caller's own key; the guard has just found it, so only a revocation in between loses it. */
  async current(principal: Principal): Promise<ApiKeyView> {
    const key = await this.keys.findForAuth(principal.keyId);
    if (key === null) throw new AuthError(Code.InvalidKey, 'The key is unknown.');
    return viewOf(key);
  }

  /**
   * An admin: every key, or those of one account. A member: the keys of their own agents (the ones they may
   * revoke); an `account` other than theirs is not found, as for every route.
   */
  async list(principal: Principal, accountId: string | null): Promise<ApiKeyView[]> {
    if (principal.role === 'admin') return (await this.keys.list(accountId)).map(viewOf);
    if (principal.role !== 'member' || principal.accountId === null || principal.personId === null) throw new Error(`api keys listed by a ${principal.role} key`);
    if (accountId !== null && accountId !== principal.accountId) throw new AuthError(Code.AccountNotFound, `Account "${accountId}" was not found.`, { field: 'account' });
    return (await this.keys.ofOwnedAgents(principal.accountId, principal.personId)).map(viewOf);
  }

  /**
   * Makes sure an operator can get in: TOKENMETER_ADMIN_KEY is the admin key from the first start on;
   * without it, a first start with no admin key writes a new one to `<data dir>/admin-key`.
   */
  async ensureAdminKey(): Promise<void> {
    const now = this.clock.now();
    const adminKey = this.config.adminKey;
    if (adminKey !== null) {
      await this.transactions.run(async (tx) => {
        const changed = await this.keys.upsertDigest(tx, BOOTSTRAP_KEY_ID, 'admin', 'TOKENMETER_ADMIN_KEY', digestKey(adminKey), now);
        if (changed) {
          await this.audit.record(tx, SYSTEM_ACTOR, {
            action: 'api_key.bootstrap',
            entityType: 'api_key',
            entityId: BOOTSTRAP_KEY_ID,
            accountId: null,
            before: null,
            after: { id: BOOTSTRAP_KEY_ID, role: 'admin', source: 'TOKENMETER_ADMIN_KEY' },
          });
        }
      });
      this.keyCache.forgetAll();
      return;
    }
    const file = join(this.config.dataDir, 'admin-key');
    const secret = await this.transactions.run(async (tx) => {
      if ((await this.keys.countActiveAdmins(tx)) > 0) return null;
      const issued = issueKey(this.config.keyEnvironment);
      const record = await this.keys.insert(tx, {
        id: issued.id,
        role: 'admin',
        account_id: null,
        person_id: null,
        agent_id: null,
        name: 'first admin key',
        secret_digest: issued.digest,
        created_at: now,
        created_by: 'system',
      });
      await this.audit.record(tx, SYSTEM_ACTOR, {
        action: 'api_key.create',
        entityType: 'api_key',
        entityId: record.id,
        accountId: null,
        before: null,
        after: viewOf(record),
      });
      // Written before the commit: a key nobody can read would lock operators out for good.
      if (!existsSync(this.config.dataDir)) mkdirSync(this.config.dataDir, { recursive: true });
      writeFileSync(file, `${issued.secret}\n`, { mode: 0o600 });
      return issued.secret;
    });
    if (secret === null) return;
    this.logger.warn(`No admin key was configured: created one and wrote it to ${file}. Keep it secret.`);
  }
}
