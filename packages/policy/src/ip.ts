/**
 * IP addresses and CIDR blocks for role ip allow-lists.
 *
 * Everything is held as one 128-bit IPv6 address in four 32-bit words. IPv4 addresses become
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) and an IPv4 block `/n` becomes `/(96 + n)`, so
 *  - a dual-stack socket's `::ffff:10.1.2.3` and a plain `10.1.2.3` are the same address,
 *  - `10.0.0.0/8` and `::ffff:10.0.0.0/104` are the same block,
 *  - and one comparison routine serves both families.
 * Consequence worth knowing: `::/0` contains every IPv4 address too; `0.0.0.0/0` contains no
 * native IPv6 address.
 */

/** A parsed address: four big-endian 32-bit words. */
export type IpWords = readonly [number, number, number, number];

export interface CidrBlock {
  /** The network address with host bits cleared. */
  readonly network: IpWords;
  /** Per-word masks derived from the prefix length. */
  readonly masks: IpWords;
  /** The block as written in the rule, for messages. */
  readonly text: string;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DECIMAL = /^\d{1,3}$/;

/** Parses dotted-decimal IPv4 into a 32-bit unsigned number, or -1. */
function parseIPv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL.test(part)) return -1;
    const octet = Number(part);
    if (octet > 255) return -1;
    value = value * 256 + octet;
  }
  return value;
}

/** Parses the colon-separated groups on one side of `::`; an IPv4 tail counts as two groups. */
function parseGroups(text: string, allowIPv4Tail: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (allowIPv4Tail && i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIPv4(part);
      if (v4 < 0) return null;
      groups.push(Math.floor(v4 / 0x10000), v4 & 0xffff);
    } else if (HEX_GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

function parseIPv6(input: string): IpWords | null {
  let text = input;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%'); // fe80::1%eth0: the zone does not take part in matching
  if (zone !== -1) text = text.slice(0, zone);

  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    const all = parseGroups(text, true);
    if (all === null || all.length !== 8) return null;
    groups = all;
  } else {
    if (text.indexOf('::', gap + 1) !== -1) return null; // at most one `::` (also rejects `:::`)
    const head = parseGroups(text.slice(0, gap), false);
    const tail = parseGroups(text.slice(gap + 2), true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const word = (i: number) => (groups[i] * 0x10000 + groups[i + 1]) >>> 0;
  return [word(0), word(2), word(4), word(6)];
}

/**
 * Parses an IPv4 or IPv6 address (IPv6 may carry brackets, a zone id or an IPv4 tail).
 * Returns null for anything else, which callers treat as "not in any allowed range".
 */
export function parseIp(text: string): IpWords | null {
  if (text.includes(':')) return parseIPv6(text);
  const v4 = parseIPv4(text);
  return v4 < 0 ? null : [0, 0, 0xffff, v4];
}

/** Parses `addr` or `addr/prefix` (IPv4 or IPv6). Host bits in `addr` are ignored. */
export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = parseIp(addressText);
  if (address === null) return null;
  const isV4 = !addressText.includes(':');
  const maxPrefix = isV4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return null;
    prefix = Number(digits);
    if (prefix > maxPrefix) return null;
  }
  if (isV4) prefix += 96;

  const maskOf = (word: number) => {
    const bits = Math.min(32, Math.max(0, prefix - 32 * word));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  const masks: IpWords = [maskOf(0), maskOf(1), maskOf(2), maskOf(3)];
  const network: IpWords = [
    (address[0] & masks[0]) >>> 0,
    (address[1] & masks[1]) >>> 0,
    (address[2] & masks[2]) >>> 0,
    (address[3] & masks[3]) >>> 0,
  ];
  return { network, masks, text };
}

export function cidrContains(block: CidrBlock, ip: IpWords): boolean {
  for (let i = 0; i < 4; i++) {
    if ((ip[i] & block.masks[i]) >>> 0 !== block.network[i]) return false;
  }
  return true;
}
