import { NewPassword } from '@toolgate/contracts';
import { z } from 'zod';

const Email = z
  .string()
  .trim()
  .max(254)
  .email('must be a valid email address')
  .transform((e) => e.toLowerCase());

const Name = z.string().trim().min(1, 'must not be empty').max(120);

export const SignupDto = z
  .object({
    email: Email,
    password: NewPassword,
    name: Name,
  })
  .strict();
export type SignupDto = z.output<typeof SignupDto>;

export const LoginDto = z.object({ email: Email, password: z.string().min(1).max(256) }).strict();
export type LoginDto = z.output<typeof LoginDto>;

export const RefreshDto = z.object({ refreshToken: z.string().min(20).max(200) }).strict();
export type RefreshDto = z.output<typeof RefreshDto>;

export const UpdateMeDto = z.object({ name: Name }).strict();
export type UpdateMeDto = z.output<typeof UpdateMeDto>;

export const ChangePasswordDto = z
  .object({ currentPassword: z.string().min(1, 'must not be empty').max(256), newPassword: NewPassword })
  .strict();
export type ChangePasswordDto = z.output<typeof ChangePasswordDto>;
