/**
 * @toolgate/policy — pure policy code, no I/O.
 *  - API (control plane): compile() an org's data into a PolicySnapshot.
 *  - Gateway (data plane, per message): findKeyByHash/checkKey to authenticate, decide/visible/templateVisible
 *    to authorize, rateLimitsFor and redactionPatternsFor for the rest of the pipeline, and
 *    makeRedactor: the one redaction rule (injected secrets in every form, then role patterns)
 *    for everything that leaves it.
 *  - Both: commandAllowed decides which stdio launchers tenants may start.
 * Everything that reads a snapshot precompiles it once (cached per snapshot object), so treat
 * snapshots as immutable and call prepare() when a worker loads a new one.
 */
export {
  type CompileInput,
  type CompileKeyInput,
  type CompileRoleInput,
  type CompileServerInput,
  compile,
  compileServer,
} from './compile';
export { prepare, type RedactionPattern } from './compiled';
export { decide, seesServer, templateVisible, visible } from './decide';
export { ruleSubject } from './subject';
export { PolicyCompileError, type PolicyCompileErrorCode } from './errors';
export { type CidrBlock, cidrContains, type IpWords, parseCidr, parseIp } from './ip';
export { checkKey, findKeyByHash, type KeyStatus } from './keys';
export { type EdgeRateLimits, edgeRateLimits, type RateLimit, rateLimitsFor } from './rate-limits';
export { redactionPatternsFor } from './redaction';
export { makeRedactor, type Redactor } from './redactor';
export { commandAllowed, DEFAULT_STDIO_COMMANDS, LAUNCHER_DIRS, launcherEntryProblem } from './stdio-commands';
export { type Decision, type PolicyRequest, type Principal, type RequestKind, type RuleRef, ruleLabel } from './types';
