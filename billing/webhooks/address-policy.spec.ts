import { AddressPolicy, parseAllowEntry } from './address-policy.js';
import { parseEndpointUrl } from './endpoint-url.js';

describe('address policy', () => {
  const strict = new AddressPolicy();

  it.each([
    '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', // private
    '127.0.0.1', '127.8.9.10', '::1', // loopback
    '169.254.169.254', 'fe80::1', // link-local, cloud metadata
    '100.100.100.200', // carrier-grade NAT (a cloud metadata address too)
    'fd00:ec2::254', 'fc00::1', // unique-local (the IPv6 metadata address)
    '0.0.0.0', '::', '255.255.255.255', '224.0.0.1', 'ff02::1', '240.0.0.1', '192.0.2.1',
    '::ffff:127.0.0.1', '::ffff:10.1.2.3', // IPv4-mapped
    '64:ff9b::7f00:1', '2002:7f00:1::', '2001:0:4136:e378::1', // NAT64, 6to4, Teredo: can carry any IPv4
    'not-an-ip',
  ])('refuses %s', (ip) => {
    expect(strict.check(ip).allowed).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '[2a00:1450::1]'])('allows public %s', (ip) => {
    expect(strict.check(ip)).toEqual({ allowed: true });
  });

  it('says why an address is refused', () => {
    expect(strict.check('169.254.169.254')).toEqual({
      allowed: false,
      reason: 'address 169.254.169.254 is linkLocal, not a public address (allow it with TOKENMETER_WEBHOOK_ALLOW_PRIVATE)',
    });
  });

  it('lets the operator allow ranges, and only those', () => {
    const onPrem = new AddressPolicy(['10.20.0.0/16', '127.0.0.1', 'fd12::/16']);
    expect(onPrem.check('10.20.3.4').allowed).toBe(true);
    expect(onPrem.check('::ffff:10.20.3.4').allowed).toBe(true);
    expect(onPrem.check('10.21.0.1').allowed).toBe(false);
    expect(onPrem.check('127.0.0.1').allowed).toBe(true);
    expect(onPrem.check('127.0.0.2').allowed).toBe(false);
    expect(onPrem.check('fd12::5').allowed).toBe(true);
    expect(onPrem.check('169.254.169.254').allowed).toBe(false);
  });

  it('reads allow-list entries as CIDRs or bare addresses', () => {
    expect(parseAllowEntry('127.0.0.1')).toBe('127.0.0.1/32');
    expect(parseAllowEntry(' 10.0.0.0/8 ')).toBe('10.0.0.0/8');
    expect(parseAllowEntry('::1')).toBe('::1/128');
    expect(parseAllowEntry('10.0.0.0/33')).toBeNull();
    expect(parseAllowEntry('example.com')).toBeNull();
    expect(() => new AddressPolicy(['nope'])).toThrow(/not a CIDR/);
  });
});

describe('endpoint URL', () => {
  it('takes http and https URLs', () => {
    const v = parseEndpointUrl('https://hooks.example.com:8443/tm?x=1');
    expect(v).toMatchObject({ ok: true, host: 'hooks.example.com' });
    expect(parseEndpointUrl('http://[2606:4700::1]/')).toMatchObject({ ok: true, host: '2606:4700::1' });
  });

  it.each([
    ['ftp://example.com/x', 'must use http or https, not ftp'],
    ['file:///etc/passwd', 'must use http or https, not file'],
    ['javascript:alert(1)', 'must use http or https, not javascript'],
    ['/relative', 'is not an absolute URL'],
    ['https://user:pw@example.com/', 'must not carry a user name or password'],
    ['https://example.com/#x', 'must not have a #fragment'],
    [`https://example.com/${'a'.repeat(2100)}`, 'must be at most 2048 characters'],
  ])('refuses %s', (raw, reason) => {
    expect(parseEndpointUrl(raw)).toEqual({ ok: false, reason });
  });
});
