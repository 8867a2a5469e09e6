// Which event may commit which reservation, shared by the rules (reservation-rules.ts) and the SQL that
// commits named reservations in one statement (reservations.repository.ts): a pure rule, importing nothing.

/** A reservation an event names, with the event's agent and person and its actual spend. */
export interface NamedReservation {
  id: string;
  agentId: string | null;
  personId: string | null;
  amount: string;
  tokens: number;
}

/**
 * Whether an event may commit a reservation: one its own agent made, or one its person made for themselves
 * (a member's hold has no agent; the member's usage arrives through their agents). The SQL that commits
 * named reservations applies the same rule (ReservationsRepository.commitNamed, committedSql).
 */
export function mayCommit(r: { agent_id: string | null; person_id: string }, by: { agentId: string | null; personId: string | null }): boolean {
  return r.agent_id === by.agentId || (r.agent_id === null && by.personId !== null && r.person_id === by.personId);
}
