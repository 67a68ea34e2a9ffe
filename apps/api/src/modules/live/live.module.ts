import { Module } from '@nestjs/common';
import { LiveTicketController } from './live.controller';
import { AuditLiveGateway } from './live.gateway';
import { LiveTickets } from './live.tickets';

/**
 * Live audit events for the dashboard: the ticket endpoint and the WebSocket gateway (needs the
 * ws adapter, see app.ts). The publishing side lives with the chain writer (live.publish.ts).
 */
@Module({
  controllers: [LiveTicketController],
  providers: [LiveTickets, AuditLiveGateway],
})
export class LiveModule {}
