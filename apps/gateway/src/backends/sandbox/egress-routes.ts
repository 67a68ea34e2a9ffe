import { isIPv4 } from 'node:net';
import { BLOCKED_IPV4_RANGES } from '../../net/private-ranges';

const SANDBOX_ADDRESS = '10.0.2.100';
/** slirp4netns's gateway inside the sandbox: every allowed packet leaves through it. */
export const SLIRP_GATEWAY = '10.0.2.2';

/**
 * `ip -batch` lines run inside the sandbox's network namespace before the server starts
 * (BLOCKED_IPV4_RANGES: private, metadata, reserved; the host's loopback is out of reach through
 * slirp4netns's --disable-host-loopback; there is no IPv6 route at all):
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
    ...BLOCKED_IPV4_RANGES.map((r) => `route add prohibit ${r}`),
  ];
  // The host's own addresses stay blocked even inside an allowed range: services bound to all
  // interfaces (the gateway, the API, a database) answer there.
  for (const a of new Set(hostAddresses)) if (isIPv4(a)) lines.push(`route add prohibit ${a}/32`);
  for (const c of allow) lines.push(`route add ${c} via ${SLIRP_GATEWAY} dev tap0`);
  return lines;
}
