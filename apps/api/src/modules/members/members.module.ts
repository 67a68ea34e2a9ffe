import { Module } from '@nestjs/common';
import { OAuthModule } from '../oauth/oauth.module';
import { MembersController } from './members.controller';
import { MembersRepository } from './members.repository';
import { MembersService } from './members.service';

@Module({ imports: [OAuthModule], controllers: [MembersController], providers: [MembersService, MembersRepository] })
export class MembersModule {}
