// The budget tree as finance reads it: the account, its units under their parents, and the people in
// each unit, each with its budget and burn when it has one. Budgets name nodes `account`, `unit:<id>`
// and `person:<id>`.
import type { Schemas } from './api';

export type Burn = Schemas['BudgetBurn'];

export interface TreeNode {
  node: string;
  /** The name as shown: a deactivated person's says so. */
  name: string;
  kind: 'account' | 'department' | 'team' | 'person';
  depth: number;
  burn: Burn | null;
  parent: string | null;
}

export function budgetTree(
  accountName: string,
  units: Schemas['Unit'][],
  people: Schemas['Person'][],
  burns: Burn[],
  showPeople: 'all' | 'with-budget',
): TreeNode[] {
  const byNode = new Map(burns.map((b) => [b.node, b]));
  const out: TreeNode[] = [{ node: 'account', name: accountName, kind: 'account', depth: 0, burn: byNode.get('account') ?? null, parent: null }];
  const children = (parent: string | null) => units.filter((u) => u.parent_id === parent).sort((a, b) => a.name.localeCompare(b.name));
  const visit = (unit: Schemas['Unit'], depth: number, parent: string) => {
    const node = `unit:${unit.id}`;
    out.push({ node, name: unit.name, kind: unit.kind, depth, burn: byNode.get(node) ?? null, parent });
    for (const child of children(unit.id)) visit(child, depth + 1, node);
    // Active people, and a deactivated one while a budget of theirs is in force (finance still sees and
    // can lower or remove it).
    for (const person of people.filter((p) => p.unit_id === unit.id && (p.active || byNode.has(`person:${p.id}`))).sort((a, b) => a.name.localeCompare(b.name))) {
      const pnode = `person:${person.id}`;
      if (showPeople === 'with-budget' && !byNode.has(pnode)) continue;
      const name = person.active ? person.name : `${person.name} (deactivated)`;
      out.push({ node: pnode, name, kind: 'person', depth: depth + 1, burn: byNode.get(pnode) ?? null, parent: node });
    }
  };
  for (const unit of children(null)) visit(unit, 1, 'account');
  return out;
}

/** The limits of one budget as the tree's row edits them: text from the keyboard. */
export interface BudgetEdit {
  node: string;
  headcount: string;
  amount_limit: string;
  token_limit: string;
}

/**
 * The body of PUT .../budgets/:node for an edited row, or what is wrong with it before anything is sent.
 * PUT replaces the whole budget, so the row's enforcement and alert thresholds, which it does not edit,
 * are sent back as they are: leaving them out would turn a hard budget soft (it would deny nothing) and
 * reset its thresholds. An empty field clears that limit; a count that is not a whole number is refused
 * here rather than sent as `null`, which would clear it too. `periodStart` names the period shown when it is
 * not the current one (without it, the service sets the budget of the period in force).
 */
export function budgetEditBody(
  period: 'year' | 'quarter' | 'month',
  edit: BudgetEdit,
  burn: Burn | null,
  periodStart?: string,
): { body: Schemas['PutBudget'] } | { error: string; field: 'headcount' | 'token_limit' } {
  const whole = (value: string): number | null | undefined => (value.trim() === '' ? null : /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined);
  const headcount = whole(edit.headcount);
  if (headcount === undefined) return { error: 'Headcount is a whole number of people (empty: none).', field: 'headcount' };
  const tokenLimit = whole(edit.token_limit);
  if (tokenLimit === undefined || (tokenLimit !== null && !Number.isSafeInteger(tokenLimit))) {
    return { error: 'The token limit is a whole number of tokens (empty: none).', field: 'token_limit' };
  }
  const amount = edit.amount_limit.trim();
  return {
    body: {
      period,
      ...(periodStart === undefined ? {} : { period_start: periodStart }),
      headcount,
      token_limit: tokenLimit,
      amount_limit: amount === '' ? null : amount,
      ...(burn ? { enforcement: burn.enforcement, thresholds: burn.thresholds } : {}),
    },
  };
}
