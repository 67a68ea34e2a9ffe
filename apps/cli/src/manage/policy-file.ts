import { RoleName, UpsertRole } from '@toolgate/contracts';
import { z } from 'zod';
import { type ConfigProblem, ConfigError } from '../config/errors';
import { problemAt, readYamlFile, schemaProblems } from '../config/yaml-file';

/** A role's body in the file: UpsertRole without its name, which is the map key. */
const RoleBody = UpsertRole.omit({ name: true });

const PolicyFileShape = z
  .object({
    version: z.literal(1, { error: 'must be 1' }).default(1),
    roles: z.record(z.string(), z.unknown(), { error: 'must be a map of role name to role' }),
  })
  .strict();

/**
 * `roles apply -f policy.yaml`: the org's roles as code, in the API's rule language.
 *
 *   version: 1
 *   roles:
 *     developer:
 *       description: Coding agents
 *       rules:
 *         tools:
 *           - { effect: allow, match: "github__*" }
 *
 * Parsed with UpsertRole itself, so the file is valid exactly when the API would accept each role.
 * Throws ConfigError with every problem's file and line.
 */
export function readPolicyFile(file: string): UpsertRole[] {
  const yaml = readYamlFile(file);
  const shape = PolicyFileShape.safeParse(yaml.data);
  if (!shape.success) throw new ConfigError(schemaProblems(yaml, shape.error));
  const problems: ConfigProblem[] = [];
  const roles: UpsertRole[] = [];
  for (const [name, body] of Object.entries(shape.data.roles)) {
    const named = RoleName.safeParse(name);
    if (!named.success)
      problems.push(problemAt(yaml, ['roles', name], `"${name}" is not a valid role name: ${named.error.issues[0]!.message}`, 'key'));
    const parsed = RoleBody.safeParse(body ?? {});
    if (!parsed.success) problems.push(...schemaProblems(yaml, parsed.error, ['roles', name]));
    else if (named.success) roles.push({ name, ...parsed.data });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return roles;
}
