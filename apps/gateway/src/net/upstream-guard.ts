import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { BLOCKED_IPV4_RANGES, BLOCKED_IPV6_RANGES, hostAddresses, LOOPBACK_IPV4 } from './private-ranges';

/**
 * Which addresses HTTP/SSE upstreams may be reached at. A tenant chooses the URL, so without this
 * the gateway would fetch cloud metadata, the API, Redis or any internal service for them. Blocked
 * unless the operator allows the range (`HTTP_UPSTREAM_ALLOW`): loopback, private, link-local,
 * CGNAT, reserved and multicast ranges, IPv6 loopback/unique-local/link-local, and the host's own
 * addresses. The check runs on the address actually connected to (after DNS), so a name that
 * resolves (or re-resolves) to a blocked address is refused too.
 */
export class UpstreamGuard {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();

  constructor(allowCidrs: readonly string[]) {
    for (const r of [...BLOCKED_IPV4_RANGES, LOOPBACK_IPV4]) addSubnet(this.blocked, r, 'ipv4');
    for (const r of BLOCKED_IPV6_RANGES) addSubnet(this.blocked, r, 'ipv6');
    for (const a of hostAddresses('IPv4')) this.blocked.addAddress(a, 'ipv4');
    for (const a of hostAddresses('IPv6')) this.blocked.addAddress(a.split('%')[0]!, 'ipv6');
    for (const c of allowCidrs) addSubnet(this.allowed, c, c.includes(':') ? 'ipv6' : 'ipv4');
  }

  /** Why the address may not be connected to, or null when it may. */
  refusal(address: string): string | null {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const ip = mapped ? mapped[1]! : address;
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(ip, family) || !this.blocked.check(ip, family)) return null;
    return `its address ${ip} is private, loopback, link-local or this host's own; an operator may allow the range with HTTP_UPSTREAM_ALLOW`;
  }

  /** net.connect's `lookup`, refusing blocked results (used for host names; literals are checked up front). */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const refused = list.map((a) => this.refusal(a.address)).find((r) => r !== null);
      if (refused) return callback(Object.assign(new Error(`upstream ${hostname} refused: ${refused}`), { code: 'EUPSTREAMBLOCKED' }), []);
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

function addSubnet(list: BlockList, cidr: string, family: 'ipv4' | 'ipv6'): void {
  const [net, bits] = cidr.split('/');
  list.addSubnet(net!, Number(bits), family);
}
