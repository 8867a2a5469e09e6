import { takeGroup } from './ingest-writer.js';

const request = (name: string, size: number, ...keys: string[]) => ({ name, size, keys });
const names = (list: { name: string }[]) => list.map((r) => r.name);

describe('takeGroup', () => {
  it('takes everything waiting, in order, when nothing is shared and it fits', () => {
    const waiting = [request('a', 50, 'e:1'), request('b', 50, 'e:2', 't:x'), request('c', 50, 'e:3', 't:y')];
    expect(names(takeGroup(waiting, 2000))).toEqual(['a', 'b', 'c']);
    expect(waiting).toEqual([]);
  });

  it('leaves a request that shares an event id or a task for a later group', () => {
    const waiting = [request('a', 1, 'e:1', 't:x'), request('b', 1, 'e:2', 't:x'), request('c', 1, 'e:1'), request('d', 1, 'e:9')];
    expect(names(takeGroup(waiting, 2000))).toEqual(['a', 'd']);
    expect(names(waiting)).toEqual(['b', 'c']);
    expect(names(takeGroup(waiting, 2000))).toEqual(['b', 'c']);
  });

  it('never lets a later request overtake one passed over on the same id or task', () => {
    // b waits because of a's task; c shares an id with b only, so c waits behind b.
    const waiting = [request('a', 1, 'e:1', 't:x'), request('b', 1, 'e:2', 't:x'), request('c', 1, 'e:2')];
    expect(names(takeGroup(waiting, 2000))).toEqual(['a']);
    expect(names(takeGroup(waiting, 2000))).toEqual(['b']);
    expect(names(takeGroup(waiting, 2000))).toEqual(['c']);
  });

  it('stops at the event cap but always takes the first request, however large', () => {
    const waiting = [request('big', 1000, 'e:1'), request('b', 600, 'e:2'), request('c', 500, 'e:3'), request('d', 400, 'e:4')];
    expect(names(takeGroup(waiting, 500))).toEqual(['big']);
    expect(names(takeGroup(waiting, 1000))).toEqual(['b', 'd']);
    expect(names(takeGroup(waiting, 1000))).toEqual(['c']);
  });

  it('a request too large for the rest of this group still holds its ids and tasks', () => {
    const waiting = [request('a', 900, 'e:1'), request('b', 200, 'e:2', 't:x'), request('c', 10, 'e:3', 't:x')];
    expect(names(takeGroup(waiting, 1000))).toEqual(['a']);
    expect(names(waiting)).toEqual(['b', 'c']);
  });
});
