import { networkInterfaces } from 'node:os';

/**
 * IPv4 destinations a tenant must never make the gateway (or its sandboxes) reach: this network,
 * private ranges, carrier-grade NAT, link-local (cloud metadata at 169.254.169.254), IETF
 * protocol assignments, benchmarking, multicast and reserved. Loopback is listed apart: the
 * sandbox handles it in slirp4netns, HTTP upstreams here.
 */
export const BLOCKED_IPV4_RANGES = [
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
export const LOOPBACK_IPV4 = '127.0.0.0/8';
/** Loopback, unspecified, unique-local (fc00::/7), link-local and multicast IPv6. */
export const BLOCKED_IPV6_RANGES = ['::1/128', '::/128', 'fc00::/7', 'fe80::/10', 'ff00::/8'] as const;

/** Addresses of this host's own interfaces: services bound to all interfaces answer there. */
export function hostAddresses(family: 'IPv4' | 'IPv6' = 'IPv4'): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === family && !a.internal)
    .map((a) => a!.address);
}
