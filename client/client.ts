// The typed client for the tokenmeter API: openapi-fetch over the types openapi-typescript generated
// from the service's own document (client/schema.ts), so a route that changes breaks its callers at
// compile time. No Node-only imports: the CLI and the web console both use it.
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };
export type TokenmeterClient = Client<paths>;
/** The named schemas of the document (`Schemas['Account']`, `Schemas['Error']`, ...). */
export type Schemas = components['schemas'];
/** The one error body every route answers a failure with. */
export type ApiError = components['schemas']['Error'];

export interface TokenmeterClientOptions {
  /** The service's address, e.g. http://127.0.0.1:3000 (routes carry their own /v1 prefix). */
  baseUrl: string;
  /** An API key, sent as `Authorization: Bearer <key>`. */
  key?: string | null;
  fetch?: ClientOptions['fetch'];
  headers?: Record<string, string>;
}

export function createTokenmeterClient(options: TokenmeterClientOptions): TokenmeterClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  return createClient<paths>({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers, fetch: options.fetch });
}
