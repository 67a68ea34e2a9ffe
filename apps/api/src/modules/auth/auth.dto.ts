import { z } from 'zod';

const Email = z
  .string()
  .trim()
  .max(254)
  .email('must be a valid email address')
  .transform((e) => e.toLowerCase());

export const SignupDto = z
  .object({
    email: Email,
    password: z.string().min(10, 'must be at least 10 characters').max(256, 'must be at most 256 characters'),
    name: z.string().trim().min(1, 'must not be empty').max(120),
  })
  .strict();
export type SignupDto = z.output<typeof SignupDto>;

export const LoginDto = z.object({ email: Email, password: z.string().min(1).max(256) }).strict();
export type LoginDto = z.output<typeof LoginDto>;

export const RefreshDto = z.object({ refreshToken: z.string().min(20).max(200) }).strict();
export type RefreshDto = z.output<typeof RefreshDto>;
