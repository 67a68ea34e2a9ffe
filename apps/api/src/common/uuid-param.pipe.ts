import { Injectable, type PipeTransform } from '@nestjs/common';
import { Problem } from './problem';

/** RFC 4122 textual form (any version). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Route ids are UUIDs. Anything else cannot name a record, so it answers the same 404 as an id
 * that does not exist (never a 400 that hints at the id format, never a 500 from Postgres
 * refusing to cast the value to uuid).
 *
 * `@Param('userId', new UuidParam('Member')) userId: string`
 */
@Injectable()
export class UuidParam implements PipeTransform<string, string> {
  /** @param what the resource named in the 404, e.g. `Member` → "Member not found". */
  constructor(private readonly what: string) {}

  transform(value: string): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw Problem.notFound(this.what);
    return value.toLowerCase();
  }
}
