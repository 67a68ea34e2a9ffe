import { Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Request } from 'express';
import { StripeWebhookService } from './stripe-webhook.service';

/** Where Stripe delivers events. No bearer auth: the Stripe-Signature header authenticates. */
export const STRIPE_WEBHOOK_PATH = '/v1/billing/stripe/webhook';

@Controller()
export class StripeWebhookController {
  constructor(private readonly webhooks: StripeWebhookService) {}

  /** The body is the raw bytes (see app.ts): the signature covers them exactly. */
  @Post(STRIPE_WEBHOOK_PATH.slice(1))
  @HttpCode(200)
  @ApiExcludeEndpoint()
  receive(@Req() req: Request, @Headers('stripe-signature') signature: string | undefined) {
    return this.webhooks.receive(req.body, signature);
  }
}
