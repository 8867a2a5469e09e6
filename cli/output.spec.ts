import { count, csv, percent, table, type Column } from './output.js';

interface Row {
  name: string;
  n: number;
  note: string | null;
}
const columns: Column<Row>[] = [
  { header: 'name', value: (r) => r.name },
  { header: 'n', value: (r) => r.n, right: true, show: count },
  { header: 'the_note', value: (r) => r.note },
];

describe('output', () => {
  it('aligns a table: text left, numbers right, no trailing spaces', () => {
    expect(table([{ name: 'gpt-4o', n: 5, note: null }, { name: 'o1', n: 1200, note: 'a\nb' }], columns)).toBe(
      ['NAME        N  THE NOTE', 'gpt-4o      5', 'o1      1,200  a b'].join('\n'),
    );
  });

  it('writes CSV with RFC 4180 quoting and empty cells for null', () => {
    expect(csv([{ name: 'a,b', n: 1, note: 'say "hi"' }, { name: 'c', n: 2, note: null }], columns)).toBe(
      'name,n,the_note\r\n"a,b",1,"say ""hi"""\r\nc,2,',
    );
  });

  it('formats counts and ratios for people', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(count(null)).toBe('');
    expect(percent(0.5)).toBe('50.0%');
    expect(percent(null)).toBe('-');
  });
});
