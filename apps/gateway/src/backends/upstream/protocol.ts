import { isSupportedProtocolVersion, LATEST_PROTOCOL_VERSION, MCP_PROTOCOL_VERSIONS } from '@toolgate/contracts';
import { RpcCode } from '../../core/jsonrpc';
import { BackendError, GATEWAY_CLIENT_CAPABILITIES, GATEWAY_CLIENT_INFO, type InitializeInfo } from '../types';
import { isObject } from './errors';

/** The gateway's initialize request to an upstream, the same over every transport. */
export function initializeParams(): Record<string, unknown> {
  return { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: GATEWAY_CLIENT_CAPABILITIES, clientInfo: GATEWAY_CLIENT_INFO };
}

/**
 * An upstream's initialize result, checked: the version must be one the gateway speaks. A
 * missing `capabilities` or `serverInfo` is tolerated (sloppy servers exist; an empty
 * capability set simply offers nothing). `label` names the upstream in the error.
 */
export function parseInitializeResult(result: Record<string, unknown>, label: string, fallbackName: string): InitializeInfo {
  const version = result.protocolVersion;
  if (typeof version !== 'string') throw initializeError(`${label} answered initialize without a protocolVersion`);
  if (!isSupportedProtocolVersion(version)) {
    throw initializeError(
      `${label} answered initialize with unsupported protocol version ${version} (the gateway speaks ${MCP_PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
  const capabilities = isObject(result.capabilities) ? result.capabilities : {};
  const si = isObject(result.serverInfo) ? result.serverInfo : {};
  const serverInfo = {
    ...si,
    name: typeof si.name === 'string' ? si.name : fallbackName,
    version: typeof si.version === 'string' ? si.version : '',
  };
  const info: InitializeInfo = { protocolVersion: version, capabilities, serverInfo };
  if (typeof result.instructions === 'string') info.instructions = result.instructions;
  return info;
}

function initializeError(message: string): BackendError {
  return new BackendError({ code: RpcCode.UpstreamUnavailable, message }, 'unavailable');
}
