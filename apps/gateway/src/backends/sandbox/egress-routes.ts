import { isIPv4 } from 'node:net';

/**
 * Destinations an `egress` sandbox must not reach, as IPv4 CIDRs: this network, private ranges,
 * carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), IETF protocol assignments,
 * benchmarking, multicast and reserved. The host's loopback is out of reach through slirp4netns's
 * --disable-host-loopback; the host's own interface addresses are added per host. The sandbox has
 * no IPv6 route at all (slirp4netns without --enable-ipv6), so fc00::/7 and the rest of IPv6 are
 * unreachable.
 */
export const BLOCKED_RANGES = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

const SANDBOX_ADDRESS = '10.0.2.100';
/** slirp4netns's gateway inside the sandbox: every allowed packet leaves through it. */
export const SLIRP_GATEWAY = '10.0.2.2';

const CIDR = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

/** Validates operator CIDRs (IPv4 only: the sandbox has no IPv6). Throws naming the bad entry. */
export function parseCidrs(list: readonly string[]): string[] {
  return list.map((entry) => {
    const m = CIDR.exec(entry.trim());
    const bits = m ? Number(m[2]) : -1;
    if (!m || !isIPv4(m[1]!) || bits > 32) throw new Error(`"${entry}" is not an IPv4 CIDR such as 10.20.0.0/16`);
    return `${m[1]}/${bits}`;
  });
}

/**
 * `ip -batch` lines run inside the sandbox's network namespace before the server starts:
 * prohibit routes for every blocked range and host address (longest prefix wins, so they beat
 * the default route), then routes through slirp for what the operator allowed. The server has
 * no capability in its namespace, so it cannot change them.
 */
export function egressRouteCommands(allow: readonly string[], hostAddresses: readonly string[]): string[] {
  const lines = [
    // slirp4netns's default network: the sandbox is 10.0.2.100, slirp's gateway 10.0.2.2, DNS 10.0.2.3.
    `addr add ${SANDBOX_ADDRESS}/24 dev tap0`,
    'link set tap0 mtu 65520 up',
    `route add default via ${SLIRP_GATEWAY} dev tap0`,
    ...BLOCKED_RANGES.map((r) => `route add prohibit ${r}`),
  ];
  // The host's own addresses stay blocked even inside an allowed range: services bound to all
  // interfaces (the gateway, the API, a database) answer there.
  for (const a of new Set(hostAddresses)) if (isIPv4(a)) lines.push(`route add prohibit ${a}/32`);
  for (const c of allow) lines.push(`route add ${c} via ${SLIRP_GATEWAY} dev tap0`);
  return lines;
}
