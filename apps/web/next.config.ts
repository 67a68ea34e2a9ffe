import type { NextConfig } from 'next';

const config: NextConfig = {
  // NEXT_DIST_DIR lets parallel test runs build into separate directories.
  distDir: process.env.NEXT_DIST_DIR ?? '.next',
  poweredByHeader: false,
  reactStrictMode: true,
  // Request/response shapes come from the workspace's contracts package, which ships TypeScript source.
  transpilePackages: ['@toolgate/contracts', '@toolgate/policy'],
  // forbidden() renders app/forbidden.tsx with a 403 when a role may not open a page.
  experimental: { authInterrupts: true },
  // The dashboard talks to the API from the server (BFF); the browser never holds a token.
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'no-referrer' },
          // The Content-Security-Policy carries a per-request nonce: src/proxy.ts sets it.
        ],
      },
    ];
  },
};

export default config;
