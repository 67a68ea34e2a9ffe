import type { Type } from '@nestjs/common';
import { OrgsModule } from './orgs/orgs.module';

/**
 * The domain modules of the control plane. Each lives in its own folder
 * (module, controller, service, repository, dto, e2e-spec).
 */
export const DOMAIN_MODULES: Type[] = [OrgsModule];
