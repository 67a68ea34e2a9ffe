import type { Type } from '@nestjs/common';
import { AuditModule } from './audit/audit.module';
import { BillingModule } from './billing/billing.module';
import { EventsModule } from './events/events.module';
import { InvitationsModule } from './invitations/invitations.module';
import { KeysModule } from './keys/keys.module';
import { ManagementTokensModule } from './management-tokens/management-tokens.module';
import { MembersModule } from './members/members.module';
import { OAuthModule } from './oauth/oauth.module';
import { OrgsModule } from './orgs/orgs.module';
import { PolicyModule } from './policy/policy.module';
import { RolesModule } from './roles/roles.module';
import { SandboxModule } from './sandbox/sandbox.module';
import { SecretsModule } from './secrets/secrets.module';
import { ServersModule } from './servers/servers.module';
import { TryItModule } from './try-it/try-it.module';
import { UsageModule } from './usage/usage.module';

/**
 * The domain modules of the control plane. Each lives in its own folder
 * (module, controller, service, repository, dto, e2e-spec).
 */
export const DOMAIN_MODULES: Type[] = [
  OrgsModule,
  MembersModule,
  InvitationsModule,
  RolesModule,
  PolicyModule,
  KeysModule,
  OAuthModule,
  ManagementTokensModule,
  SecretsModule,
  ServersModule,
  TryItModule,
  SandboxModule,
  UsageModule,
  BillingModule,
  AuditModule,
  EventsModule,
];
