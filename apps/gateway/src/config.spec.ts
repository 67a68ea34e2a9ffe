import { loadGatewayConfig, sandboxOptions } from './config';

const KEY = { TOOLGATE_SECRET_KEY: `${'0'.repeat(63)}1` };

describe('gateway configuration: the stdio sandbox and upstream guard', () => {
  it('confines stdio servers by default and maps the limits', () => {
    const options = sandboxOptions(loadGatewayConfig({ ...KEY }));
    expect(options).toMatchObject({
      mode: 'bwrap',
      readOnlyPaths: [],
      cacheDir: null,
      scratchMb: 256,
      limits: { memoryMb: 1024, processes: 128, openFiles: 1024, fileSizeMb: 256, cpuSeconds: 3600 },
      egressAllow: [],
    });
  });

  it('takes vetted paths and ranges as comma-separated lists', () => {
    const config = loadGatewayConfig({
      ...KEY,
      STDIO_SANDBOX_PATHS: '/opt/mcp, /srv/tools',
      STDIO_EGRESS_ALLOW: '10.20.0.0/16',
      HTTP_UPSTREAM_ALLOW: '10.0.0.0/8,fd00::/8',
      STDIO_SANDBOX: 'off',
    });
    expect(sandboxOptions(config)).toMatchObject({ mode: 'off', readOnlyPaths: ['/opt/mcp', '/srv/tools'], egressAllow: ['10.20.0.0/16'] });
    expect(config.HTTP_UPSTREAM_ALLOW).toEqual(['10.0.0.0/8', 'fd00::/8']);
  });

  it.each([
    [{ STDIO_SANDBOX: 'none' }, /STDIO_SANDBOX/],
    [{ STDIO_SANDBOX_PATHS: 'node_modules' }, /STDIO_SANDBOX_PATHS: must be absolute paths/],
    [{ STDIO_EGRESS_ALLOW: 'fc00::/7' }, /STDIO_EGRESS_ALLOW: "fc00::\/7" is not an IPv4 CIDR/],
    [{ HTTP_UPSTREAM_ALLOW: '10.0.0.0/40' }, /HTTP_UPSTREAM_ALLOW: "10.0.0.0\/40" is not a CIDR/],
  ])('refuses to start with %j', (env, message) => {
    expect(() => loadGatewayConfig({ ...KEY, ...env })).toThrow(message);
  });
});

describe('gateway configuration: the authorization server', () => {
  it('names the issuer as the API states it, without a trailing slash', () => {
    expect(loadGatewayConfig({ ...KEY, PUBLIC_API_URL: 'https://api.example/' }).PUBLIC_API_URL).toBe('https://api.example');
    expect(loadGatewayConfig({ ...KEY }).PUBLIC_API_URL).toBe('http://127.0.0.1:4000');
  });
});
