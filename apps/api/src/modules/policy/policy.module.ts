import { Module } from '@nestjs/common';
import { EffectivePolicyController } from './effective.controller';
import { PolicyController } from './policy.controller';
import { PolicyRepository } from './policy.repository';
import { PolicyService } from './policy.service';

@Module({ controllers: [PolicyController, EffectivePolicyController], providers: [PolicyService, PolicyRepository] })
export class PolicyModule {}
