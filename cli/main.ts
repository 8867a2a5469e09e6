#!/usr/bin/env node
// The `tokenmeter` executable (package.json `bin`): wires the process to the command tree.
import { run } from './program.js';

const interrupt = new AbortController();
let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second Ctrl-C leaves at once.
    if (++interrupts > 1) process.exit(130);
    interrupt.abort();
  });
}

const code = await run(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  interrupt: interrupt.signal,
});
process.exitCode = code;
// Keep-alive sockets and stdin must not hold the process open once the command is done.
process.stdin.unref?.();
// Should anything still hold the loop open, leave anyway (an unref'd timer does not itself keep it open).
setTimeout(() => process.exit(code), 200).unref();
