import fc from 'fast-check';
import { csvCell, eventsCsv, meterCsv, toCsv, wantsCsv } from './csv.js';
import type { EventView } from './event-view.js';

/** A small RFC 4180 reader, to check that what we write reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('csvCell', () => {
  it('quotes only where needed and doubles quotes', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(42)).toBe('42');
    expect(csvCell(true)).toBe('true');
  });

  it('defuses formulas in text cells', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('+1+1')).toBe("'+1+1");
    expect(csvCell('-cmd')).toBe("'-cmd");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).toBe("'\tx");
  });

  it('leaves plain numbers alone, negative ones too', () => {
    expect(csvCell('-1.500000000000')).toBe('-1.500000000000');
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell('0.25')).toBe('0.25');
  });

  it('round-trips any text through an RFC 4180 reader (formula cells gain one quote)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), { maxLength: 5 }), (rows) => {
        const width = Math.max(1, ...rows.map((r) => r.length));
        const header = Array.from({ length: width }, (_, i) => `c${i}`);
        const padded = rows.map((r) => [...r, ...Array(width - r.length).fill('')]);
        const back = parseCsv(toCsv(header, padded));
        expect(back[0]).toEqual(header);
        expect(back.slice(1)).toEqual(padded.map((r) => r.map((c) => (/^[=+\-@\t\r]/.test(c) && !/^-?\d+(\.\d+)?$/.test(c) ? `'${c}` : c))));
      }),
    );
  });
});

describe('wantsCsv', () => {
  it('reads the Accept header', () => {
    expect(wantsCsv('text/csv')).toBe(true);
    expect(wantsCsv('application/json, text/csv;q=0.9')).toBe(true);
    expect(wantsCsv('TEXT/CSV; charset=utf-8')).toBe(true);
    expect(wantsCsv('text/csv;q=0')).toBe(false);
    expect(wantsCsv('application/json')).toBe(false);
    expect(wantsCsv('*/*')).toBe(false);
    expect(wantsCsv(undefined)).toBe(false);
  });
});

const SUMS = { calls: 2, tokens: { input: 10, cached_input: 5, cache_write: 1, output: 7, reasoning: 3, total: 23 }, cost: '0.001000000000', unpriced_tokens: 4, effective_ratio: 0.5 };

describe('meterCsv', () => {
  it('has a key column per dimension, then the flattened sums; null keys are empty', () => {
    const csv = meterCsv({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-02T00:00:00.000Z',
      group_by: ['model', 'channel'],
      rows: [
        { key: { model: 'gpt-4o', channel: 'cli' }, ...SUMS },
        { key: { model: null, channel: 'program' }, ...SUMS, calls: 1, effective_ratio: null },
      ],
      totals: SUMS,
    });
    expect(csv.split('\r\n')).toEqual([
      'key_model,key_channel,calls,tokens_input,tokens_cached_input,tokens_cache_write,tokens_output,tokens_reasoning,tokens_total,cost,unpriced_tokens,effective_ratio',
      'gpt-4o,cli,2,10,5,1,7,3,23,0.001000000000,4,0.5',
      ',program,1,10,5,1,7,3,23,0.001000000000,4,',
      '',
    ]);
  });
});

describe('eventsCsv', () => {
  const event: EventView = {
    id: 'e1',
    timestamp: '2026-03-15T10:00:00.000Z',
    received_at: '2026-03-15T12:00:00.000Z',
    person_id: 'p',
    agent_id: 'a',
    unit_id: 'u',
    session_id: null,
    session_context: 'internal',
    task_id: null,
    attempt_id: null,
    outcome: null,
    error_signature: '=cmd|"/c calc"!A1',
    operation: 'approval.create',
    channel: 'cli',
    model: 'gpt-4o',
    model_name: 'gpt-4o',
    tier: 'base',
    priced: true,
    tokens: SUMS.tokens,
    cost: { input: '1', cached_input: '2', cache_write: '3', output: '4', reasoning: '5', total: '10' },
    label: 'unclassified',
    adjustment: false,
    metadata: { note: 'a,b' },
  };

  it('flattens tokens and costs, serialises metadata as JSON and defuses formulas', () => {
    const rows = parseCsv(eventsCsv([event, { ...event, id: 'e2', cost: null, priced: false }]));
    const header = rows[0]!;
    const at = (row: string[], col: string) => row[header.indexOf(col)];
    expect(header).toContain('tokens_total');
    expect(header).toContain('cost_total');
    expect(at(rows[1]!, 'tokens_total')).toBe('23');
    expect(at(rows[1]!, 'cost_total')).toBe('10');
    expect(at(rows[1]!, 'error_signature')).toBe(`'=cmd|"/c calc"!A1`);
    expect(at(rows[1]!, 'metadata')).toBe('{"note":"a,b"}');
    expect(at(rows[1]!, 'session_id')).toBe('');
    expect(at(rows[2]!, 'cost_total')).toBe('');
    expect(at(rows[2]!, 'priced')).toBe('false');
  });
});
