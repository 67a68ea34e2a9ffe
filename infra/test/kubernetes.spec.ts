import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { queuedAfterCrash } from './redis-aof';
import { expectRunnable, parseDocs, render, root } from './render';

/** The parts of rendered Kubernetes objects the tests read. */
interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { privileged?: boolean; runAsUser?: number };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  hostUsers?: boolean;
  containers: Container[];
}
interface Rule {
  to?: { podSelector?: { matchLabels?: Record<string, string> }; ipBlock?: { cidr: string; except?: string[] } }[];
  ports?: { protocol: string; port: number }[];
}
interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> } & Record<string, string>;
    podSelector?: { matchLabels: Record<string, string> };
    template?: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    ports?: { name?: string; port: number; targetPort: string | number }[];
    policyTypes?: string[];
    egress?: Rule[];
    ingress?: Rule[];
    tls?: { hosts: string[]; secretName: string }[];
    rules?: { host: string; http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[];
  };
}

const PRODUCT = ['toolgate-api', 'toolgate-worker', 'toolgate-gateway', 'toolgate-web'];

/** Renders an overlay from a copy of infra/k8s, with secrets.env written as an operator would. */
function renderOverlay(overlay: 'dev' | 'prod', withSecrets = true): { status: number | null; stderr: string; objects: K8sObject[] } {
  const dir = mkdtempSync(path.join(tmpdir(), `tg-k8s-${overlay}-`));
  cpSync(path.join(root, 'infra/k8s'), dir, { recursive: true, filter: (src) => path.basename(src) !== 'secrets.env' });
  const secrets = path.join(dir, 'overlays', overlay, 'secrets.env');
  if (withSecrets && overlay === 'dev') {
    execFileSync(process.execPath, [path.join(root, 'scripts/secrets.mjs'), '--k8s-dev', secrets]);
  } else if (withSecrets) {
    const example = readFileSync(`${secrets}.example`, 'utf8');
    writeFileSync(
      secrets,
      example.replace(/^([A-Z_]+)=$/gm, (_, k: string) => `${k}=${k.toLowerCase()}-from-the-store-0123456789abcdef`),
    );
  }
  const r = render('kubectl', ['kustomize', path.join(dir, 'overlays', overlay)]);
  rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stderr: r.stderr, objects: r.status === 0 ? parseDocs<K8sObject>(r.stdout) : [] };
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each(['dev', 'prod'] as const)('kubectl kustomize infra/k8s/overlays/%s', (overlay) => {
  const rendered = renderOverlay(overlay);
  const objects = rendered.objects;
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
  const pod = (o: K8sObject) => o.spec.template?.spec as PodSpec;
  const podLabels = (o: K8sObject) => o.spec.template?.metadata.labels ?? {};
  const example = readFileSync(path.join(root, 'infra/k8s/overlays', overlay, 'secrets.env.example'), 'utf8');

  it('renders', () => {
    expect(rendered.stderr).toBe('');
    expect(rendered.status).toBe(0);
  });

  it('runs every process: API, worker, gateway and dashboard Deployments and the migration Job', () => {
    for (const name of PRODUCT) expect(find('Deployment', name)).toBeDefined();
    expect(find('Job', 'toolgate-migrate')).toBeDefined();
    const command = (name: string, kind = 'Deployment') => pod(find(kind, name) as K8sObject).containers[0].command as string[];
    for (const name of PRODUCT) expectRunnable(command(name));
    expectRunnable(command('toolgate-migrate', 'Job'));
    expect(command('toolgate-worker')).toEqual(['pnpm', '--filter', '@toolgate/api', 'run', 'start:worker']);
    expect(command('toolgate-api')).toEqual(['pnpm', '--filter', '@toolgate/api', 'run', 'start']);
    const namespaces = new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace));
    expect(namespaces).toEqual(new Set([overlay === 'dev' ? 'toolgate-dev' : 'toolgate']));
  });

  it('probes every long-running container on a port it declares, and bounds its resources', () => {
    for (const w of workloads.filter((o) => o.kind !== 'Job')) {
      for (const c of pod(w).containers) {
        for (const probe of [c.readinessProbe, c.livenessProbe]) {
          expect(probe).toBeDefined();
          const port = probe?.httpGet?.port;
          if (port !== undefined) {
            const declared = (c.ports ?? []).some((p) => p.name === port || p.containerPort === port);
            expect(`${w.metadata.name}:${port}:${declared}`).toBe(`${w.metadata.name}:${port}:true`);
          } else {
            expect(probe?.exec?.command.length).toBeGreaterThan(0);
          }
        }
      }
    }
    for (const w of workloads) {
      for (const c of pod(w).containers) {
        for (const k of ['cpu', 'memory']) {
          expect(`${w.metadata.name} requests.${k}=${c.resources?.requests?.[k] !== undefined}`).toBe(
            `${w.metadata.name} requests.${k}=true`,
          );
          expect(`${w.metadata.name} limits.${k}=${c.resources?.limits?.[k] !== undefined}`).toBe(`${w.metadata.name} limits.${k}=true`);
        }
      }
    }
  });

  it('resolves every Secret and ConfigMap reference to a key that is declared', () => {
    const secrets = objects.filter((o) => o.kind === 'Secret');
    const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
    expect(secrets).toHaveLength(1);
    let refs = 0;
    for (const w of workloads) {
      for (const c of pod(w).containers) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          refs++;
          const secret = secrets.find((s) => s.metadata.name === ref.name);
          expect(`${w.metadata.name} → secret ${ref.name}: ${secret !== undefined}`).toBe(`${w.metadata.name} → secret ${ref.name}: true`);
          if (ref.optional) {
            // Optional keys (Stripe, the operator token) are at least documented for the operator.
            expect(example).toMatch(new RegExp(`^#? ?${ref.key}=`, 'm'));
          } else {
            expect(`${w.metadata.name} → ${ref.key}: ${ref.key in (secret?.data ?? {})}`).toBe(`${w.metadata.name} → ${ref.key}: true`);
          }
        }
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef) expect(configMaps.map((m) => m.metadata.name)).toContain(from.configMapRef.name);
          if (from.secretRef) expect(secrets.map((s) => s.metadata.name)).toContain(from.secretRef.name);
        }
      }
    }
    expect(refs).toBeGreaterThan(10);
    const keys = (obj: K8sObject | undefined) => Object.keys(obj?.data ?? {});
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'TOOLGATE_SECRET_KEY']) expect(keys(secrets[0])).toContain(key);
  });

  it('refuses to render without secrets.env: no secret is baked in', () => {
    const without = renderOverlay(overlay, false);
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain('secrets.env');
  });

  it('has a PodDisruptionBudget and a Service whose selectors match the pods', () => {
    for (const name of PRODUCT) {
      const labels = podLabels(find('Deployment', name) as K8sObject);
      const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && matches(o.spec.selector?.matchLabels ?? {}, labels));
      expect(`${name} pdb: ${pdb !== undefined}`).toBe(`${name} pdb: true`);
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const target = workloads.find((w) => matches(svc.spec.selector as Record<string, string>, podLabels(w)));
      expect(`${svc.metadata.name} selects: ${target !== undefined}`).toBe(`${svc.metadata.name} selects: true`);
      const ports = pod(target as K8sObject).containers.flatMap((c) => c.ports ?? []);
      for (const p of svc.spec.ports ?? [])
        expect(ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)).toBe(true);
    }
  });

  it('lets the gateway reach only DNS, Redis, the collector and public addresses', () => {
    const np = find('NetworkPolicy', 'toolgate-gateway') as K8sObject;
    expect(matches(np.spec.podSelector?.matchLabels ?? {}, podLabels(find('Deployment', 'toolgate-gateway') as K8sObject))).toBe(true);
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    const egress = np.spec.egress ?? [];
    const ports = egress.flatMap((r) => (r.ports ?? []).map((p) => p.port));
    expect(ports).toEqual(expect.arrayContaining([53, 6379, 4318]));
    expect(ports).not.toContain(5432);
    const open = egress.filter((r) => !r.ports);
    expect(open).toHaveLength(1);
    const everywhere = open[0].to?.[0].ipBlock;
    expect(everywhere?.cidr).toBe('0.0.0.0/0');
    expect(everywhere?.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']));
  });

  it('gives the gateway its sandbox: privileged inside a pod user namespace, uids inside its range', () => {
    const gw = find('Deployment', 'toolgate-gateway') as K8sObject;
    const spec = pod(gw);
    expect(spec.hostUsers).toBe(false);
    expect(spec.containers[0].securityContext).toEqual(expect.objectContaining({ privileged: true, runAsUser: 0 }));
    const env = Object.fromEntries((spec.containers[0].env ?? []).map((e) => [e.name, e.value]));
    expect(Number(env.STDIO_SANDBOX_UID_FIRST) + Number(env.STDIO_SANDBOX_UID_COUNT)).toBeLessThanOrEqual(65536);
    expect(spec.containers[0].volumeMounts?.map((m) => m.mountPath)).toContain(env.SPOOL_DIR);
  });

  it('serves the dashboard, the API and the gateway through one Ingress with TLS', () => {
    const ing = find('Ingress', 'toolgate') as K8sObject;
    expect(ing.spec.tls?.[0].secretName).toBeTruthy();
    const hosts = ing.spec.rules?.map((r) => r.host) ?? [];
    expect(new Set(ing.spec.tls?.[0].hosts)).toEqual(new Set(hosts));
    const backends = ing.spec.rules?.flatMap((r) => r.http.paths.map((p) => p.backend.service)) ?? [];
    expect(backends.map((b) => b.name).sort()).toEqual(['toolgate-api', 'toolgate-gateway', 'toolgate-web']);
    for (const b of backends) {
      const svc = find('Service', b.name) as K8sObject;
      expect(svc.spec.ports?.some((p) => p.name === b.port.name || p.port === b.port.number)).toBe(true);
    }
  });

  if (overlay === 'dev') {
    it('includes Postgres and a Redis that keeps the queues across restarts (AOF on a volume)', async () => {
      const redis = find('StatefulSet', 'toolgate-redis') as K8sObject;
      const args = pod(redis).containers[0].args?.join(' ');
      expect(args).toContain('--appendonly yes');
      expect(args).toContain('--maxmemory-policy noeviction');
      expect(pod(redis).containers[0].volumeMounts?.[0].mountPath).toBe('/data');
      // Its own arguments on this machine's redis-server (the folder is the test's own):
      // queued jobs survive a SIGKILL.
      const own = (pod(redis).containers[0].args ?? [])
        .join(' ')
        .replace(/--dir \S+/, '')
        .split(' ')
        .filter(Boolean);
      await expect(queuedAfterCrash(own)).resolves.toBe(100);
      expect(find('StatefulSet', 'toolgate-postgres')).toBeDefined();
      const secret = objects.find((o) => o.kind === 'Secret') as K8sObject;
      const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString();
      expect(decode('DATABASE_URL')).toContain(`:${decode('POSTGRES_PASSWORD')}@toolgate-postgres:5432/`);
      expect(decode('REDIS_URL')).toBe('redis://toolgate-redis:6379');
    });
  } else {
    it('leaves Postgres and Redis outside (managed or operated elsewhere)', () => {
      expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    });
  }
});

it('ships no secrets.env of either overlay', () => {
  for (const overlay of ['dev', 'prod'])
    expect(existsSync(path.join(root, 'infra/k8s/overlays', overlay, 'secrets.env')) && isTracked(overlay)).toBe(false);
});

function isTracked(overlay: string): boolean {
  const out = execFileSync('git', ['ls-files', `infra/k8s/overlays/${overlay}/secrets.env`], { cwd: root, encoding: 'utf8' });
  return out.trim() !== '';
}
