// What an endpoint URL may look like, before any address is looked at: absolute http(s), no user or
// password in it (they would be logged and shown), no fragment, of a sane length.
export const URL_MAX = 2048;

export type UrlVerdict = { ok: true; url: URL; host: string } | { ok: false; reason: string };

export function parseEndpointUrl(raw: string): UrlVerdict {
  if (raw.length > URL_MAX) return { ok: false, reason: `must be at most ${URL_MAX} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: `must use http or https, not ${url.protocol.replace(/:$/, '')}` };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'must not carry a user name or password' };
  if (url.hash !== '') return { ok: false, reason: 'must not have a #fragment' };
  if (url.hostname === '') return { ok: false, reason: 'has no host' };
  // The host as a resolver or an IP check wants it: IPv6 literals without their brackets.
  return { ok: true, url, host: url.hostname.replace(/^\[|\]$/g, '') };
}
