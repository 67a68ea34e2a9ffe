import type { IncomingHttpHeaders } from 'node:http';
import { type CidrBlock, cidrContains, parseCidr, parseIp } from '@toolgate/policy';

/** TRUSTED_PROXIES entries (addresses or CIDRs, IPv4 or IPv6); throws on one it cannot read. */
export function parseTrustedProxies(entries: readonly string[]): CidrBlock[] {
  return entries.map((e) => {
    const block = parseCidr(e);
    if (!block) throw new Error(`not an IP address or CIDR block: ${e}`);
    return block;
  });
}

/**
 * The client's address for IP allow-lists and audit. Forwarding headers are believed only as far
 * as they were written by trusted proxies: from the socket peer leftwards, the first hop that is
 * not a trusted proxy is the client (anything further left is whatever that client claimed).
 * With no trusted proxies, or a peer that is not one, the socket address is the answer.
 *
 * `X-Forwarded-For` is read when present, `Forwarded` (RFC 7239, `for=`) otherwise: the proxy
 * must overwrite or strip the header it does not use, or a client could choose its own.
 */
export class ClientIpResolver {
  constructor(private readonly trusted: readonly CidrBlock[]) {}

  resolve(peer: string | undefined, headers: IncomingHttpHeaders): string | null {
    if (!peer) return null;
    if (!this.isTrusted(peer)) return peer;
    const hops = forwardedHops(headers);
    let nearest = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = hostOf(hops[i]!);
      // A hop we cannot read (`unknown`, an obfuscated name, garbage): trust ends at the proxy that wrote it.
      if (ip === null) return nearest;
      if (!this.isTrusted(ip)) return ip;
      nearest = ip;
    }
    return nearest;
  }

  /** Is the socket peer one of TRUSTED_PROXIES (whose forwarding headers are believed)? */
  peerTrusted(peer: string | undefined): boolean {
    return peer !== undefined && this.isTrusted(peer);
  }

  private isTrusted(address: string): boolean {
    if (this.trusted.length === 0) return false;
    const ip = parseIp(address);
    return ip !== null && this.trusted.some((b) => cidrContains(b, ip));
  }
}

/** The forwarding chain, client side first. */
function forwardedHops(headers: IncomingHttpHeaders): string[] {
  const xff = headers['x-forwarded-for'];
  if (xff) return (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((h) => h.trim());
  const fwd = headers.forwarded;
  if (!fwd) return [];
  const hops: string[] = [];
  for (const element of (Array.isArray(fwd) ? fwd.join(',') : fwd).split(',')) {
    const pair = element
      .split(';')
      .map((p) => p.trim())
      .find((p) => p.toLowerCase().startsWith('for='));
    // An element without `for=` still is a hop, one we cannot read.
    hops.push(pair ? pair.slice(4) : '');
  }
  return hops;
}

/** The address of one hop (quotes, brackets and port removed), or null if it is not an IP address. */
function hostOf(hop: string): string | null {
  let h = hop.trim();
  if (h.startsWith('"') && h.endsWith('"') && h.length >= 2) h = h.slice(1, -1);
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close === -1) return null;
    h = h.slice(1, close);
  } else if (h.indexOf(':') !== -1 && h.indexOf(':') === h.lastIndexOf(':')) {
    h = h.slice(0, h.indexOf(':')); // IPv4 with a port
  }
  return parseIp(h) === null ? null : h;
}
