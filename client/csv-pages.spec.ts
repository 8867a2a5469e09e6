// The paged CSV made one file: for any rows cut into any pages, the file is the header once and every row in
// order, each page asked for with the cursor the one before it gave; a change of columns is refused.
import fc from 'fast-check';
import { CsvColumnsChanged, csvFilePages, splitCsv } from './csv-pages.js';

/** A service answering `pages` in turn, each with its header line, recording the cursors asked for. */
function service(header: string, pages: string[][], headers: string[] = []) {
  const asked: (string | undefined)[] = [];
  const fetchPage = async (cursor: string | undefined) => {
    asked.push(cursor);
    const i = cursor === undefined ? 0 : Number(cursor.slice(1));
    const rows = pages[i]!.map((r) => `${r}\r\n`).join('');
    return { csv: `${headers[i] ?? header}\r\n${rows}`, next: i + 1 < pages.length ? `c${i + 1}` : null };
  };
  return { fetchPage, asked };
}

async function file(pages: AsyncIterable<{ text: string; next: string | null }>): Promise<{ text: string; next: string | null }> {
  let text = '';
  let next: string | null = null;
  for await (const page of pages) {
    text += page.text;
    next = page.next;
  }
  return { text, next };
}

// A cell as the service writes it: quoted when it holds a comma, a quote or a line break.
const cell = fc.string({ maxLength: 8 }).map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v));
const row = fc.array(cell, { minLength: 3, maxLength: 3 }).map((cells) => cells.join(','));

describe('csvFilePages', () => {
  it('makes any pages one file: the header once, every row in order, each page asked for by the cursor before it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(row, { maxLength: 5 }), { minLength: 1, maxLength: 6 }), async (pages) => {
        const { fetchPage, asked } = service('id,operation,cost', pages);
        const { text, next } = await file(csvFilePages(fetchPage, { all: true }));
        expect(text).toBe(`id,operation,cost\r\n${pages.flat().map((r) => `${r}\r\n`).join('')}`);
        expect(next).toBeNull();
        expect(asked).toEqual(pages.map((_, i) => (i === 0 ? undefined : `c${i}`)));
      }),
    );
  });

  it('gives one page, from the cursor given, and the cursor after it, when not asked for all', async () => {
    const { fetchPage, asked } = service('id', [['a'], ['b'], ['c']]);
    expect(await file(csvFilePages(fetchPage, { cursor: 'c1', all: false }))).toEqual({ text: 'id\r\nb\r\n', next: 'c2' });
    expect(asked).toEqual(['c1']);
  });

  it('refuses pages whose columns changed between two pages', async () => {
    const { fetchPage } = service('id,cost', [['a,1'], ['b,2']], ['id,cost', 'id,cost,unpriced_tokens']);
    await expect(file(csvFilePages(fetchPage, { all: true }))).rejects.toBeInstanceOf(CsvColumnsChanged);
  });

  it('splits a page at its first line break: a header alone has no rows', () => {
    expect(splitCsv('id,cost\r\na,"1\r\n2"\r\n')).toEqual({ header: 'id,cost', rows: 'a,"1\r\n2"\r\n' });
    expect(splitCsv('id,cost')).toEqual({ header: 'id,cost', rows: '' });
  });
});
