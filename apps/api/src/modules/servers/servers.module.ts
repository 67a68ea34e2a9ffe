import { Module } from '@nestjs/common';
import { ProbeClient } from './probe.client';
import { ServersController } from './servers.controller';
import { ServersRepository } from './servers.repository';
import { ServersService } from './servers.service';

@Module({ controllers: [ServersController], providers: [ServersService, ServersRepository, ProbeClient] })
export class ServersModule {}
