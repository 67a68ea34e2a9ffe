import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { isInternalAddress } from '../usage/webhook-target';

/**
 * Whether an address must never be fetched from the control plane: loopback, private, CGNAT,
 * link-local (cloud metadata), multicast, reserved, IPv6 unique-local / link-local, and every
 * IPv6 form that embeds an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) judged by the
 * embedded address. Anything that does not parse counts as internal.
 */
export function isForbiddenAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return isInternalAddress(ip);
  if (family !== 6) return true;
  const words = ipv6Words(ip);
  if (!words) return true;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zeros = (n: number) => words.slice(0, n).every((w) => w === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible; also :: and ::1).
  if (zeros(5) && (words[5] === 0xffff || words[5] === 0)) {
    if (words[5] === 0 && zeros(7)) return true;
    return isInternalAddress(v4(words[6]!, words[7]!));
  }
  // 64:ff9b::/96 (NAT64) and 64:ff9b:1::/48 (local-use NAT64): the v4 address is in the last 32 bits.
  if (words[0] === 0x64 && words[1] === 0xff9b) return true;
  // 2002::/16 (6to4) embeds the v4 address in bits 16–48; 2001::/32 (Teredo) obfuscates one.
  if (words[0] === 0x2002) return isInternalAddress(v4(words[1]!, words[2]!));
  if (words[0] === 0x2001 && words[1] === 0) return true;
  // 2001:db8::/32 documentation, 100::/64 discard.
  if (words[0] === 0x2001 && words[1] === 0xdb8) return true;
  if (words[0] === 0x100 && words[1] === 0 && words[2] === 0 && words[3] === 0) return true;
  return isInternalAddress(ip);
}

/** The eight 16-bit words of an IPv6 address (zone id dropped, dotted tail converted), or null. */
function ipv6Words(ip: string): number[] | null {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    s = `${s.slice(0, -dotted[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const words = [...head, ...Array<string>(fill).fill('0'), ...tail].map((w) =>
    /^[0-9a-f]{1,4}$/.test(w) ? Number.parseInt(w, 16) : Number.NaN,
  );
  return words.length === 8 && words.every((w) => !Number.isNaN(w)) ? words : null;
}

export class ForbiddenTargetError extends Error {}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s) agents: resolves every address of the host and fails if any is
 * forbidden, so the socket connects only to an address that was checked (no DNS rebinding
 * between a check and the connect). `allowInternal` skips the check (operator-allowed hosts).
 */
export function guardedLookup(allowInternal: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const bad = allowInternal ? undefined : list.find((a) => isForbiddenAddress(a.address));
      if (bad || list.length === 0) {
        const e = new ForbiddenTargetError(
          `${hostname} resolves to a forbidden address (${bad?.address ?? 'none'})`,
        ) as NodeJS.ErrnoException;
        e.code = 'EFORBIDDEN';
        return callback(e, []);
      }
      if (options.all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
