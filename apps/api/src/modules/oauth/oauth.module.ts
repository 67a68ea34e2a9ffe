import { Module } from '@nestjs/common';
import { AuthorizeService } from './authorize.service';
import { ClientsService } from './clients.service';
import { ConsentController } from './consent.controller';
import { ConsentService } from './consent.service';
import { GrantsController } from './grants.controller';
import { GrantsService } from './grants.service';
import { OAuthEndpointsController } from './oauth-endpoints.controller';
import { OAuthPruner } from './oauth.pruner';
import { OAuthRepository } from './oauth.repository';
import { TokenService } from './token.service';

/** The control plane as OAuth 2.1 authorization server for agents (see README.md here). */
@Module({
  controllers: [OAuthEndpointsController, ConsentController, GrantsController],
  providers: [OAuthRepository, OAuthPruner, ClientsService, AuthorizeService, ConsentService, TokenService, GrantsService],
  exports: [OAuthRepository],
})
export class OAuthModule {}
