// Who is calling: the key's role and what it is bound to. Operator roles see every account; the others
// are bound to one account, a member to a person, an agent to an agent and, through it, its owner.
export const ROLES = ['admin', 'sales', 'finance', 'member', 'agent'] as const;
export type Role = (typeof ROLES)[number];
export const OPERATOR_ROLES: readonly Role[] = ['admin', 'sales'];

export interface Principal {
  keyId: string;
  role: Role;
  /** null for operator roles. */
  accountId: string | null;
  /** The person a member key belongs to, or the owner an agent acts for. */
  personId: string | null;
  agentId: string | null;
}

/** What the audit log records as the author of a change. */
export interface Actor {
  keyId: string | null;
  role: Role | 'system';
  accountId: string | null;
  onBehalfOfPersonId: string | null;
}

export const SYSTEM_ACTOR: Actor = { keyId: null, role: 'system', accountId: null, onBehalfOfPersonId: null };

export function actorOf(p: Principal): Actor {
  return {
    keyId: p.keyId,
    role: p.role,
    accountId: p.accountId,
    onBehalfOfPersonId: p.role === 'agent' ? p.personId : null,
  };
}

/** A role with its article, for sentences: "an admin", "a sales". */
export function aRole(role: Role): string {
  return `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;
}

/** "an agent key", "an admin or a sales key", "an admin, a sales or a finance key". */
export function keyOfRoles(roles: readonly Role[]): string {
  const named = roles.map(aRole);
  const last = named.pop();
  return `${named.length > 0 ? `${named.join(', ')} or ${last}` : (last ?? 'no')} key`;
}

export function isOperator(p: Principal): boolean {
  return p.accountId === null;
}
