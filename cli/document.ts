// A request body from a file a person wrote: JSON or YAML (YAML 1.2 reads JSON as well), `-` for stdin.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { CliError, EXIT } from './exit-codes.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function readDocument(file: string, stdin: NodeJS.ReadableStream): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = file === '-' ? await readAll(stdin) : await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(EXIT.usage, `cannot read ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new CliError(EXIT.usage, `${file} is neither JSON nor YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError(EXIT.usage, `${file} must hold one object`);
  return value as Record<string, unknown>;
}
