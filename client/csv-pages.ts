// A paged CSV made one file (the events listing answers a page per request, its next page's cursor in the
// `x-next-cursor` header): the first page as the service wrote it, then every later page's rows, each page
// given as it comes. The CLI (`events --csv --all`) and the web console (Operations, "Download CSV") use it.
// No Node-only imports.

/** The pages' columns changed between two pages (the service was upgraded meanwhile): the file would lie. */
export class CsvColumnsChanged extends Error {
  constructor() {
    super("The CSV's columns changed between two pages (the service was upgraded?): start again.");
  }
}

/**
 * A page's header line and its rows, each with its CRLF (RFC 4180 as the service writes it): the header's
 * names are fixed, so no quoted line break is in it.
 */
export function splitCsv(csv: string): { header: string; rows: string } {
  const end = csv.indexOf('\r\n');
  return end === -1 ? { header: csv, rows: '' } : { header: csv.slice(0, end), rows: csv.slice(end + 2) };
}

/**
 * The text each page adds to the file, with the cursor after it (null after the last page). Follows the
 * cursor while `all` (otherwise one page, from `cursor`).
 */
export async function* csvFilePages(
  fetchPage: (cursor: string | undefined) => Promise<{ csv: string; next: string | null }>,
  options: { cursor?: string; all: boolean },
): AsyncGenerator<{ text: string; next: string | null }> {
  let cursor = options.cursor;
  let header: string | null = null;
  for (;;) {
    const { csv, next } = await fetchPage(cursor);
    const page = splitCsv(csv);
    if (header === null) {
      header = page.header;
      yield { text: csv, next };
    } else if (page.header !== header) {
      throw new CsvColumnsChanged();
    } else yield { text: page.rows, next };
    if (!options.all || next === null) return;
    cursor = next;
  }
}
