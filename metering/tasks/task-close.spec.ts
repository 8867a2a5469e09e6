import { decideClose, type Closer } from './task-close.js';

const agent = (agentId: string, personId: string): Closer => ({ role: 'agent', agentId, personId });
const member = (personId: string): Closer => ({ role: 'member', agentId: null, personId });
const finance: Closer = { role: 'finance', agentId: null, personId: null };
const events = [{ agent_id: 'bot-1', person_id: 'ana' }];
const closedAt = new Date('2026-03-15T12:00:00Z');

describe('closing a task', () => {
  it('closes an open task for its agent, its agent\'s person, and finance', () => {
    for (const closer of [agent('bot-1', 'ana'), member('ana'), finance]) {
      expect(decideClose(closer, { status: 'open' }, events, 'failed')).toEqual({ kind: 'close' });
    }
  });

  it('refuses another agent, even of the same person, and another person', () => {
    expect(decideClose(agent('bot-2', 'ana'), { status: 'open' }, events, 'failed')).toEqual({ kind: 'not_yours' });
    expect(decideClose(agent('bot-9', 'bob'), { status: 'open' }, events, 'failed')).toEqual({ kind: 'not_yours' });
    expect(decideClose(member('bob'), { status: 'open' }, events, 'failed')).toEqual({ kind: 'not_yours' });
    // A task shared by two agents is each one's.
    expect(decideClose(agent('bot-2', 'ana'), { status: 'open' }, [...events, { agent_id: 'bot-2', person_id: 'ana' }], 'failed')).toEqual({ kind: 'close' });
    // A task with no events (they were all rejected) is no one's, with no spend to relabel.
    expect(decideClose(agent('bot-9', 'bob'), { status: 'open' }, [], 'failed')).toEqual({ kind: 'close' });
    // Ownership first: a key learns nothing of a closed task that is not its own.
    expect(decideClose(member('bob'), { status: 'succeeded', closed_at: closedAt }, events, 'failed')).toEqual({ kind: 'not_yours' });
  });

  it('answers a task closed with the same status as it is, and refuses another status', () => {
    expect(decideClose(finance, { status: 'succeeded', closed_at: closedAt }, events, 'succeeded')).toEqual({ kind: 'already' });
    expect(decideClose(agent('bot-1', 'ana'), { status: 'succeeded', closed_at: closedAt }, events, 'failed')).toEqual({ kind: 'conflict', status: 'succeeded', closedAt });
    expect(decideClose(finance, { status: 'abandoned', closed_at: closedAt }, events, 'succeeded')).toEqual({ kind: 'conflict', status: 'abandoned', closedAt });
  });
});
