import type { NetworkPolicy, SandboxMode } from '@toolgate/contracts';

/** How tenant stdio servers are confined on this gateway (from the gateway's config). */
export interface SandboxOptions {
  mode: SandboxMode;
  /** Extra host paths servers may read (vetted servers' code, toolchains outside /usr). */
  readOnlyPaths: string[];
  /** Host directory holding one writable cache folder per org (npm/uv caches), or null. */
  cacheDir: string | null;
  /** Size cap of each private tmpfs (home, /tmp, /dev/shm), MiB. */
  scratchMb: number;
  limits: SandboxLimits;
  /** Host uids handed to sandboxes, one per running server (only when the gateway runs as root). */
  uidRange: { first: number; count: number };
  /** CIDRs `egress` servers may reach although they are private (the operator's explicit choice). */
  egressAllow: string[];
}

export interface SandboxLimits {
  /** Data segment (heap) per process, MiB; the RSS watchdog bounds the whole tree. */
  memoryMb: number;
  processes: number;
  openFiles: number;
  fileSizeMb: number;
  /** CPU seconds over a server's life (a runaway loop ends; a restart resets it). */
  cpuSeconds: number;
}

/** What one launch needs to know about the server it starts. */
export interface LaunchRequest {
  command: string;
  args: string[];
  /** The server's whole environment (base variables, its config, opened secrets). */
  env: Record<string, string>;
  orgId: string;
  network: NetworkPolicy;
}
