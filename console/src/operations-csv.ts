// The operations page's CSV download, its file name: the account, and the range of the filters (UTC, as typed).

/** The downloaded file's name: the account, and the range when the filters have one (`from`, `to`: datetime-local values, or empty). */
export function csvFileName(account: string, f: { from: string; to: string }): string {
  const part = (v: string) => v.replace(/[^0-9T-]/g, '').replace('T', '-');
  const range = f.from === '' && f.to === '' ? '' : `-${f.from === '' ? 'start' : part(f.from)}-to-${f.to === '' ? 'now' : part(f.to)}`;
  return `operations-${account}${range}.csv`;
}
