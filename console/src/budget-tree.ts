// The budget tree as finance reads it: the account, its units under their parents, and the people in
// each unit, each with its budget and burn when it has one. Budgets name nodes `account`, `unit:<id>`
// and `person:<id>`.
import type { Schemas } from './api';
import { decimalError, isDecimal } from './decimal-input';

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
): { body: Schemas['PutBudget'] } | { error: string; field: 'headcount' | 'amount_limit' | 'token_limit' } {
  const whole = (value: string): number | null | undefined => (value.trim() === '' ? null : /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined);
  const headcount = whole(edit.headcount);
  if (headcount === undefined) return { error: 'Headcount is a whole number of people (empty: none).', field: 'headcount' };
  const tokenLimit = whole(edit.token_limit);
  if (tokenLimit === undefined || (tokenLimit !== null && !Number.isSafeInteger(tokenLimit))) {
    return { error: 'The token limit is a whole number of tokens (empty: none).', field: 'token_limit' };
  }
  const amount = edit.amount_limit.trim();
  // Checked here as the counts are, so a typo (1,000) gets the form's sentence, not the API's field name.
  if (amount !== '' && !isDecimal(amount)) {
    return { error: 'The amount limit is a decimal number with at most 12 decimals, like 120.00 (empty: none).', field: 'amount_limit' };
  }
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

/** The transfer form as typed: the two nodes and what moves, text from the keyboard. */
export interface TransferForm {
  from: string;
  to: string;
  amount: string;
  headcount: string;
  tokens: string;
}

export const emptyTransfer = (): TransferForm => ({ from: '', to: '', amount: '', headcount: '', tokens: '' });

/**
 * What is wrong with a transfer before it is sent, by field. A count typed as a word would otherwise go out
 * as `null` (Number('one') is NaN, which JSON writes as null) and come back as the API's field name.
 */
export function transferErrors(form: TransferForm): Partial<Record<keyof TransferForm, string>> {
  const errors: Partial<Record<keyof TransferForm, string>> = {};
  if (form.from === '') errors.from = 'Choose the budget the allocation comes from.';
  if (form.to === '') errors.to = 'Choose the budget it goes to.';
  else if (form.to === form.from) errors.to = 'Choose another budget than the one it comes from.';
  const amount = form.amount.trim();
  if (amount !== '' && !isDecimal(amount)) errors.amount = decimalError(amount, 'The amount')!.replace('2.50', '5.00');
  const whole = (v: string) => v.trim() === '' || (/^\d+$/.test(v.trim()) && Number.isSafeInteger(Number(v.trim())));
  if (!whole(form.headcount)) errors.headcount = 'A whole number of people.';
  if (!whole(form.tokens)) errors.tokens = 'A whole number of tokens.';
  if (amount === '' && form.headcount.trim() === '' && form.tokens.trim() === '') errors.amount = 'Give an amount, a headcount or tokens to move.';
  return errors;
}

/** The body of POST .../budgets/transfers for a form transferErrors found nothing wrong with. */
export function transferBody(form: TransferForm, period: 'year' | 'quarter' | 'month', periodStart?: string): Schemas['BudgetTransfer'] {
  return {
    from: form.from,
    to: form.to,
    period,
    ...(periodStart === undefined ? {} : { period_start: periodStart }),
    ...(form.amount.trim() !== '' ? { amount: form.amount.trim() } : {}),
    ...(form.headcount.trim() !== '' ? { headcount: Number(form.headcount.trim()) } : {}),
    ...(form.tokens.trim() !== '' ? { tokens: Number(form.tokens.trim()) } : {}),
  };
}

/** What a transfer moved, in words, leaving out what it did not move (no "0 heads, 0 tokens"). */
export function movedText(moved: { amount: string | null; headcount: number; tokens: number }, money: (v: string) => string, tokens: (n: number) => string): string {
  const parts = [
    moved.amount !== null && !/^0*(\.0*)?$/.test(moved.amount) ? money(moved.amount) : null,
    moved.headcount > 0 ? `${moved.headcount} ${moved.headcount === 1 ? 'head' : 'heads'}` : null,
    moved.tokens > 0 ? `${tokens(moved.tokens)} tokens` : null,
  ].filter((p) => p !== null);
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

/** "1 person, 2 agents": the headcount column's counts, in words. */
export function countsText(people: number, agents: number): string {
  return `${people} ${people === 1 ? 'person' : 'people'}, ${agents} ${agents === 1 ? 'agent' : 'agents'}`;
}

/**
 * Where the meter's tightest budget is, as its reader says it: their own, the account's, or a unit or
 * person by id (the meter does not read the org tree for names). Was the API's node key (person:ada).
 */
export function budgetNodeText(node: string, personId: string | null): string {
  if (personId !== null && node === `person:${personId}`) return 'your own budget';
  if (node === 'account') return 'the account’s budget';
  const [kind, id] = node.split(':');
  return kind === 'unit' ? `the budget of unit ${id}` : `the budget of ${id ?? node}`;
}

/** What is left of a limit, said as an overrun once it is spent past (was "-413,117 tokens", "-3.00 EUR"). */
export function leftText(left: string | number, show: (magnitude: string) => string): string {
  const text = String(left).trim();
  const over = text.startsWith('-') && !/^-0*(\.0*)?$/.test(text);
  return over ? `${show(text.slice(1))} over` : show(text.replace(/^-/, ''));
}

/** The forecast's date the limit is reached: "limit reached" once it is at or before the reading's time. */
export function limitText(reachedAt: string | null, asOf: string | null, show: (iso: string) => string): string {
  if (reachedAt === null) return '';
  return asOf !== null && Date.parse(reachedAt) <= Date.parse(asOf) ? ' · limit reached' : ` · limit on ${show(reachedAt)}`;
}
