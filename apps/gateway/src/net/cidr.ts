import { isIP } from 'node:net';

const CIDR = /^([0-9a-fA-F.:]+)\/(\d{1,3})$/;

/**
 * Validates operator CIDRs and returns them normalised; throws naming the bad entry. IPv6 only
 * where the caller can use it (the stdio sandbox has no IPv6 route).
 */
export function parseCidrs(list: readonly string[], opts: { ipv6?: boolean } = {}): string[] {
  return list.map((entry) => {
    const m = CIDR.exec(entry.trim());
    const family = m ? isIP(m[1]!) : 0;
    const bits = m ? Number(m[2]) : -1;
    const ok = (family === 4 && bits <= 32) || (opts.ipv6 === true && family === 6 && bits <= 128);
    if (!ok)
      throw new Error(`"${entry}" is not ${opts.ipv6 ? 'a CIDR such as 10.20.0.0/16 or fd00::/8' : 'an IPv4 CIDR such as 10.20.0.0/16'}`);
    return `${m![1]}/${bits}`;
  });
}
