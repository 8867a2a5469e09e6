// The one gate for every route: finds the caller's key, checks the route's roles and, for routes under
// /accounts/:account, that a non-operator key belongs to that account (another account's data is a 404).
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ALLOW_ROLES, DENIED_HINT, PUBLIC_ROUTE, type AuthenticatedRequest } from './access.decorators.js';
import { BOOTSTRAP_KEY_ID, digestsMatch, parseKeyId } from './api-key.js';
import { ApiKeysRepository, type KeyForAuth } from './api-keys.repository.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import { KeyCache } from './key-cache.js';
import { aRole, keyOfRoles, type Principal, type Role } from './principal.js';

const MAX_KEY_LENGTH = 255;

export function principalOf(key: KeyForAuth): Principal {
  if (key.revoked_at !== null) throw new AuthError(AuthErrorCode.RevokedKey, 'This API key has been revoked.');
  if (key.role === 'member' && key.person_active !== true) {
    throw new AuthError(AuthErrorCode.InactiveOwner, 'The person this key belongs to is no longer active.');
  }
  if (key.role === 'agent' && (key.agent_active !== true || key.owner_active !== true)) {
    throw new AuthError(AuthErrorCode.InactiveOwner, 'The agent or the person it acts for is no longer active.');
  }
  return {
    keyId: key.id,
    role: key.role,
    accountId: key.account_id,
    personId: key.role === 'agent' ? key.agent_owner_person_id : key.person_id,
    agentId: key.agent_id,
  };
}

/** What a route's decorators say about its callers, read once per handler (metadata never changes after start). */
interface RouteAccess {
  /** The controller class it was read with (a handler inherited by two controllers is read for each). */
  type: object;
  public: boolean;
  roles: Role[];
  hint: string | undefined;
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly access = new WeakMap<object, RouteAccess>();

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly cache: KeyCache,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.accessOf(context);
    if (access.public) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const principal = await this.authenticate(request.headers.authorization);
    request.principal = principal;

    const roles = access.roles;
    if (!roles.includes(principal.role)) {
      const hint = access.hint ?? `This takes ${keyOfRoles(roles)}.`;
      throw new AuthError(AuthErrorCode.Forbidden, `${hint} This is ${aRole(principal.role)} key.`);
    }
    const account = (request.params as Record<string, string> | undefined)?.account;
    if (account !== undefined && principal.accountId !== null && principal.accountId !== account) {
      throw new AuthError(AuthErrorCode.AccountNotFound, `Account "${account}" was not found.`);
    }
    return true;
  }

  /** The route's access metadata, cached per handler and class (the pair Nest's reflector reads). */
  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    const type = context.getClass();
    let access = this.access.get(handler);
    if (access === undefined || access.type !== type) {
      const targets = [handler, type];
      access = {
        type,
        public: this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true,
        roles: this.reflector.getAllAndOverride<Role[] | undefined>(ALLOW_ROLES, targets) ?? [],
        hint: this.reflector.getAllAndOverride<string | undefined>(DENIED_HINT, targets),
      };
      this.access.set(handler, access);
    }
    return access;
  }

  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw new AuthError(AuthErrorCode.MissingKey, 'Send an API key: Authorization: Bearer <key>.');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const token = match?.[1];
    if (!token || token.length > MAX_KEY_LENGTH) {
      throw new AuthError(AuthErrorCode.InvalidKey, 'The API key is malformed.');
    }
    const id = parseKeyId(token);
    // A configured TOKENMETER_ADMIN_KEY may have any format, so whatever does not resolve is tried against it.
    const key = (id !== null ? await this.find(id) : null) ?? (await this.find(BOOTSTRAP_KEY_ID));
    if (!key || !digestsMatch(token, key.secret_digest)) {
      throw new AuthError(AuthErrorCode.InvalidKey, 'The API key is not valid.');
    }
    return principalOf(key);
  }

  private find(id: string): Promise<KeyForAuth | null> {
    return this.cache.get(id, () => this.keys.findForAuth(id));
  }
}
