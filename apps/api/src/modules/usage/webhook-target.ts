import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Outgoing webhooks go to URLs org members typed in. In production they must not reach the
 * control plane's own network (loopback, private ranges, link-local — cloud metadata at
 * 169.254.169.254 —, carrier-grade NAT, multicast, reserved), or a member could use the worker
 * to probe internal services. The check resolves the host name and refuses if any address is
 * internal. (A host whose DNS answer changes between this check and the request can still slip
 * through; the check stops the direct cases.)
 */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv6');
}

export function isInternalAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return INTERNAL.check(ip, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:10.0.0.1) is the IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    return mapped ? INTERNAL.check(mapped[1]!, 'ipv4') : INTERNAL.check(ip, 'ipv6');
  }
  return true;
}

/** The target resolves to an internal address: retrying will not help. */
export class InternalTargetError extends Error {}

/** Resolves when `url` may receive a webhook; rejects with the reason otherwise (DNS errors as they come). */
export async function assertPublicTarget(url: string): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  const internal = addresses.find(isInternalAddress);
  if (internal !== undefined)
    throw new InternalTargetError(`refusing to deliver to ${host}: it resolves to an internal address (${internal})`);
}
