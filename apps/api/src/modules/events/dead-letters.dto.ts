import { QueueName } from '@toolgate/contracts';
import { z } from 'zod';

export const RedriveDto = z
  .object({
    /** Only letters from this queue (default: both event queues). */
    queue: z.enum([QueueName.Audit, QueueName.Usage]).optional(),
    /**
     * Also letters refused as invalid (they are re-validated: after a deploy that taught the
     * consumers a new event shape they are stored, otherwise they are parked again).
     */
    includeInvalid: z.boolean().default(false),
  })
  .strict();
export type RedriveDto = z.output<typeof RedriveDto>;
