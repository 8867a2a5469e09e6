// Where a webhook may be sent, decided on IP addresses (a name is checked on every address it resolves
// to, at creation and again at each connection, since DNS can change). Only public unicast addresses are
// allowed, as ipaddr.js classifies them (private, loopback, link-local and the cloud metadata address
// 169.254.169.254, carrier-grade NAT, unique-local, multicast, reserved, and the IPv6 tunnel and
// translation prefixes that can carry an IPv4 address are all refused), unless the operator allows a
// range with TOKENMETER_WEBHOOK_ALLOW_PRIVATE (on-prem receivers, tests).
import ipaddr from 'ipaddr.js';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

const HINT = 'not a public address (allow it with TOKENMETER_WEBHOOK_ALLOW_PRIVATE)';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses one allow-list entry, a CIDR or a bare address; null when it is neither. */
export function parseAllowEntry(entry: string): string | null {
  const text = entry.trim();
  try {
    if (ipaddr.isValidCIDR(text)) {
      const [address, bits] = ipaddr.parseCIDR(text);
      return `${address.toString()}/${bits}`;
    }
    if (ipaddr.isValid(text)) {
      const address = ipaddr.parse(text);
      return `${address.toString()}/${address.kind() === 'ipv4' ? 32 : 128}`;
    }
  } catch {
    return null;
  }
  return null;
}

export class AddressPolicy {
  private readonly allowed: Cidr[];

  constructor(allowCidrs: readonly string[] = []) {
    this.allowed = allowCidrs.map((cidr) => {
      const canonical = parseAllowEntry(cidr);
      if (canonical === null) throw new Error(`not a CIDR: ${cidr}`);
      return ipaddr.parseCIDR(canonical);
    });
  }

  /** `subject` names what was asked for when it was a host name: "hooks.example resolves to 10.0.0.1, which is private, ...". */
  check(ip: string, subject?: string): AddressVerdict {
    let address: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      // process() turns an IPv4-mapped IPv6 address (::ffff:10.0.0.1) into the IPv4 address it carries.
      address = ipaddr.process(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
    } catch {
      return { allowed: false, reason: `"${ip}" is not an IP address` };
    }
    if (this.allowed.some(([net, bits]) => net.kind() === address.kind() && address.match(net, bits))) return { allowed: true };
    const range = address.range();
    if (range === 'unicast') return { allowed: true };
    const shown = address.toString();
    return {
      allowed: false,
      reason: subject === undefined ? `address ${shown} is ${range}, ${HINT}` : `${subject} resolves to ${shown}, which is ${range}, ${HINT}`,
    };
  }
}
