import { type StripeFake, startStripeFake } from '../../api/test/fixtures/stripe-fake';
import { type FullStack, startFullStack } from './stack';

export type { StripeFake };

/**
 * The whole product with Stripe pointed at the API's checking Stripe fake (the one the API's own
 * billing tests use): the API and the worker talk to it through the real `stripe` SDK.
 */
export async function startStripeStack(extraEnv: Record<string, string> = {}): Promise<{ fake: StripeFake; stack: FullStack }> {
  const fake = await startStripeFake();
  try {
    const stack = await startFullStack({ ...fake.env(), STRIPE_TIMEOUT_MS: '2000', STRIPE_MAX_NETWORK_RETRIES: '0', ...extraEnv });
    return { fake, stack };
  } catch (e) {
    await fake.stop();
    throw e;
  }
}
