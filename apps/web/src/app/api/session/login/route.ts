import type { NextRequest } from 'next/server';
import { startSession } from '@/lib/session-routes';

export function POST(req: NextRequest) {
  return startSession(req, '/v1/auth/login');
}
