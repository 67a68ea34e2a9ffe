import { channels } from '@toolgate/contracts';
import type Redis from 'ioredis';
import type { RelayBus } from '../core/ports';

/** The relay's messages between workers: Redis pub/sub on `channels.gatewayRelay`. */
export function redisRelayBus(redis: Redis, sub: Redis): RelayBus {
  return {
    publish: async (message) => {
      await redis.publish(channels.gatewayRelay, message);
    },
    subscribe: async (listener) => {
      sub.on('message', (channel: string, message: string) => {
        if (channel === channels.gatewayRelay) listener(message);
      });
      await sub.subscribe(channels.gatewayRelay);
    },
  };
}
