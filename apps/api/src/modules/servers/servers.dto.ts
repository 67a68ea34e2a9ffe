import { CreateServerRequest, ListServersQuery, UpdateServerRequest } from '@toolgate/contracts';
import type { z } from 'zod';

/**
 * The server registry's request schemas live in @toolgate/contracts (api/servers.ts), shared with
 * the dashboard's form. The inferred types are named apart from their schemas
 * (`CreateServerInput` for `CreateServerDto`): a controller parameter typed with a name that is
 * also a value gets that value (a zod object) as its decorator metadata under SWC, which
 * @nestjs/swagger then fails to inspect.
 */
export const CreateServerDto = CreateServerRequest;
export type CreateServerInput = z.output<typeof CreateServerDto>;

export const UpdateServerDto = UpdateServerRequest;
export type UpdateServerInput = z.output<typeof UpdateServerDto>;

export { ListServersQuery };
export type ListServersInput = z.output<typeof ListServersQuery>;
