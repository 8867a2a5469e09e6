// The budget tree as finance reads it: the account, its units under their parents, and the people in
// each unit, each with its budget and burn when it has one. Budgets name nodes `account`, `unit:<id>`
// and `person:<id>`.
import type { Schemas } from './api';

export type Burn = Schemas['BudgetBurn'];

export interface TreeNode {
  node: string;
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
    for (const person of people.filter((p) => p.unit_id === unit.id && p.active).sort((a, b) => a.name.localeCompare(b.name))) {
      const pnode = `person:${person.id}`;
      if (showPeople === 'with-budget' && !byNode.has(pnode)) continue;
      out.push({ node: pnode, name: person.name, kind: 'person', depth: depth + 1, burn: byNode.get(pnode) ?? null, parent: node });
    }
  };
  for (const unit of children(null)) visit(unit, 1, 'account');
  return out;
}
