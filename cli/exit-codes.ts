// What `tokenmeter` exits with, so a script can tell a refused key from an unknown account from a service
// that is down. The numbers are a contract (README, `tokenmeter --help`): add new ones, never renumber.
export const EXIT = {
  ok: 0,
  /** Anything unexpected (a bug, an unreadable file). */
  failure: 1,
  /** Bad arguments or options: unknown command or option, a missing or malformed value. */
  usage: 2,
  /** No service URL or key: run `tokenmeter login` or set TOKENMETER_URL and TOKENMETER_KEY. */
  notLoggedIn: 3,
  /** The key was refused (HTTP 401) or may not do this (HTTP 403). */
  refused: 4,
  /** What was named does not exist (HTTP 404): an unknown account, plan, key, task ... */
  notFound: 5,
  /** The service refused the request as invalid or conflicting (any other 4xx). */
  invalid: 6,
  /** The service could not be reached or failed (network error, timeout, HTTP 5xx). */
  unavailable: 7,
  /** `report` finished but some events were rejected (each printed with its line number). */
  rejected: 8,
  /** `authorize` was answered `allowed: false`. */
  denied: 9,
  /** Interrupted (Ctrl-C) before finishing; `report` resumes where it stopped. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0    success (for tail: ended with Ctrl-C)
  1    unexpected failure
  2    bad arguments or options
  3    not logged in (no URL or key)
  4    key refused (HTTP 401) or not allowed (HTTP 403)
  5    not found (HTTP 404), e.g. an unknown account
  6    request refused as invalid or conflicting (other HTTP 4xx)
  7    service unreachable or failing (network error, HTTP 5xx)
  8    report: some events were rejected
  9    authorize: denied
  130  interrupted (report resumes from its checkpoint)`;

/** A failure the CLI reports in one line and exits with. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The service's error body, when there was one (printed with --json). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

/** The exit code for an HTTP error status. */
export function exitForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.refused;
  if (status === 404) return EXIT.notFound;
  if (status >= 400 && status < 500) return EXIT.invalid;
  return EXIT.unavailable;
}
