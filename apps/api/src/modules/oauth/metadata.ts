import type { Env } from '../../config/env';
import { AUTH_METHODS } from './clients.service';
import { BASE_SCOPE, oauthEndpoints } from './oauth.config';

/** RFC 8414 metadata, served at both discovery locations. */
export function authorizationServerMetadata(env: Env) {
  return {
    ...oauthEndpoints(env),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    scopes_supported: [BASE_SCOPE],
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
    service_documentation: `${env.PUBLIC_WEB_URL.replace(/\/+$/, '')}/docs/oauth`,
  };
}
