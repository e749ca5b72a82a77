// The contenders: direct to the farm, longhaul (uws, node), HAProxy (http-reuse always / safe),
// nginx. Each proxy runs as its own process, single thread / worker, with a generated config
// that uses the same pool size and timeouts; the configs are written next to the results.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Farm } from './farm.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The one set of knobs every proxy gets (per server where the proxy has the notion). */
export type Knobs = typeof KNOBS;

export const KNOBS = {
  maxConnPerServer: 12,
  idleTimeoutS: 290,
  connectS: 5,
  serverS: 60,
  queueS: 10,
  clientS: 30,
  httpRequestS: 10,
  keepAliveS: 10,
  retries: 3,
};

export interface Running {
  /** Ports a client uses: every farm server for direct, the one listener otherwise. */
  ports: number[];
  /** Proxy process id; null for direct. */
  pid: number | null;
  /** ms from spawn until the listener accepted a TCP connection. */
  readyMs: number;
  /** Why the process is gone, or null while it runs. */
  exited(): string | null;
  stop(): Promise<void>;
}

export interface Contender {
  name: string;
  /** null when it can run; otherwise what is missing. */
  missing: string | null;
  start(farm: Farm, dirs: { configs: string; secrets: string }, phase: string): Promise<Running>;
}

export function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (d === '') continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Spawns a proxy, waits until its port accepts TCP (15 s at most), and wraps stop/exit. */
async function spawnProxy(cmd: string, args: string[], port: number, logFile: string): Promise<Running> {
  const t0 = performance.now();
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let exitedWith: string | null = null;
  const gone = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exitedWith = `exited (${signal ?? code})`;
      r();
    }),
  );
  child.once('error', (e) => (exitedWith = `spawn failed: ${e.message}`));
  const stop = async (): Promise<void> => {
    if (exitedWith === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(t);
    }
    log.end();
  };
  for (;;) {
    if (exitedWith !== null) {
      await sleep(50);
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' / ');
      throw new Error(`${exitedWith}: ${tail}`);
    }
    if (await tcpAccepts(port)) break;
    if (performance.now() - t0 > 15_000) {
      await stop();
      throw new Error('did not listen within 15 s');
    }
    await sleep(10);
  }
  return { ports: [port], pid: child.pid!, readyMs: performance.now() - t0, exited: () => exitedWith, stop };
}

function secrets(farm: Farm, dir: string): { crt: string; key: string; pem: string; ca: string } {
  const w = (n: string, d: string): string => {
    const p = path.join(dir, n);
    writeFileSync(p, d, { mode: 0o600 });
    return p;
  };
  return {
    crt: w('gateway.crt', farm.gatewayCert),
    key: w('gateway.key', farm.gatewayKey),
    pem: w('gateway.pem', farm.gatewayCert + farm.gatewayKey), // HAProxy wants both in one file
    ca: w('farm-ca.pem', farm.ca),
  };
}

const direct: Contender = {
  name: 'direct',
  missing: null,
  start: async (farm) => ({ ports: farm.ports, pid: null, readyMs: 0, exited: () => null, stop: async () => {} }),
};

/**
 * @param nodeArgs extra node flags for the gateway process (e.g. `--cpu-prof`, bench/lan-profile.ts).
 * @param root another checkout to run (its bin/longhaul.js), for before/after comparisons.
 * @param over knobs that differ from KNOBS for one scenario (bench/memory-profile.ts); minIdle 2 by default.
 */
export function longhaul(engine: 'uws' | 'node', burst: string, nodeArgs: string[] = [], root = ROOT, label = '', over: Partial<Knobs> & { minIdle?: number } = {}): Contender {
  return {
    name: `longhaul ${engine}${label}`,
    missing: null,
    async start(farm, dirs, phase) {
      const s = secrets(farm, dirs.secrets);
      const port = await freePort();
      const k = { ...KNOBS, ...over };
      const cfg = `# longhaul, engine ${engine} — generated by bench/contenders.ts
listeners:
  - name: clients
    bind: 127.0.0.1:${port}
    engine: ${engine}
    tls: { cert: ${s.crt}, key: ${s.key} }
    farm: farm
    timeouts: { client: ${k.clientS}s, http-request: ${k.httpRequestS}s, http-keep-alive: ${k.keepAliveS}s }
log: { level: warn, access: false }
farms:
  - name: farm
    balance: leastconn
    http-reuse: always
    retries: ${k.retries}
    redispatch: true
    timeouts: { connect: ${k.connectS}s, server: ${k.serverS}s, queue: ${k.queueS}s }
    tls: { ca: ${s.ca}, sni: ${farm.sni} }
    pool: { max-conn: ${k.maxConnPerServer}, max-idle: ${k.maxConnPerServer}, min-idle: ${over.minIdle ?? 2}, idle-timeout: ${k.idleTimeoutS}s, burst: ${burst} }
    servers:
${farm.ports.map((p, i) => `      - { name: s${i + 1}, address: 127.0.0.1:${p} }`).join('\n')}
`;
      const file = path.join(dirs.configs, `${phase}-longhaul-${engine}${label.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, cfg);
      return spawnProxy(process.execPath, [...nodeArgs, path.join(root, 'bin/longhaul.js'), 'run', '--config', file], port, file.replace(/\.yaml$/, '.log'));
    },
  };
}

export function haproxy(reuse: 'always' | 'safe', bin: string | null, over: Partial<Knobs> = {}): Contender {
  return {
    name: `haproxy ${reuse}`,
    missing: bin === null ? 'haproxy' : null,
    async start(farm, dirs, phase) {
      const s = secrets(farm, dirs.secrets);
      const port = await freePort();
      const k = { ...KNOBS, ...over };
      const cfg = `# HAProxy, http-reuse ${reuse} — generated by bench/contenders.ts
global
    nbthread 1
    maxconn 4096
    ssl-server-verify required

defaults
    mode http
    option http-keep-alive
    timeout connect ${k.connectS}s
    timeout client ${k.clientS}s
    timeout server ${k.serverS}s
    timeout queue ${k.queueS}s
    timeout http-request ${k.httpRequestS}s
    timeout http-keep-alive ${k.keepAliveS}s
    retries ${k.retries}
    option redispatch

frontend clients
    bind 127.0.0.1:${port} ssl crt ${s.pem}
    default_backend farm

backend farm
    balance leastconn
    http-reuse ${reuse}
    default-server ssl ca-file ${s.ca} sni str(${farm.sni}) verifyhost ${farm.sni} maxconn ${k.maxConnPerServer} pool-max-conn ${k.maxConnPerServer} pool-purge-delay ${k.idleTimeoutS}s
${farm.ports.map((p, i) => `    server s${i + 1} 127.0.0.1:${p}`).join('\n')}
`;
      const file = path.join(dirs.configs, `${phase}-haproxy-${reuse}.cfg`);
      writeFileSync(file, cfg);
      return spawnProxy(bin!, ['-db', '-f', file], port, file.replace(/\.cfg$/, '.log'));
    },
  };
}

export function nginx(bin: string | null, over: Partial<Knobs> = {}): Contender {
  return {
    name: 'nginx',
    missing: bin === null ? 'nginx' : null,
    async start(farm, dirs, phase) {
      const s = secrets(farm, dirs.secrets);
      const port = await freePort();
      const k = { ...KNOBS, ...over };
      const prefix = path.join(dirs.secrets, `nginx-${phase}`);
      mkdirSync(prefix, { recursive: true });
      const cfg = `# nginx — generated by bench/contenders.ts
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    keepalive_timeout ${k.keepAliveS}s;
    client_header_timeout ${k.httpRequestS}s;
    client_body_timeout ${k.clientS}s;
    send_timeout ${k.clientS}s;

    upstream farm {
        least_conn;
${farm.ports.map((p) => `        server 127.0.0.1:${p};`).join('\n')}
        # idle connections cached per worker, all servers together: ${k.maxConnPerServer} per server
        keepalive ${k.maxConnPerServer * farm.ports.length};
        keepalive_timeout ${k.idleTimeoutS}s;
        keepalive_requests 1000000;
    }

    server {
        listen 127.0.0.1:${port} ssl;
        # Same protocols as HAProxy 2.6 and longhaul offer: nginx 1.22 (Debian 12) defaults to TLSv1–1.2, so
        # without this it alone negotiates TLS 1.2 with wrk, whose sessions resume every time (TLS 1.3
        # tickets are single-use for OpenSSL clients).
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate ${s.crt};
        ssl_certificate_key ${s.key};
        location / {
            proxy_pass https://farm;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_ssl_session_reuse on;
            proxy_ssl_server_name on;
            proxy_ssl_name ${farm.sni};
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate ${s.ca};
            proxy_connect_timeout ${k.connectS}s;
            proxy_read_timeout ${k.serverS}s;
            proxy_send_timeout ${k.serverS}s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries ${k.retries + 1};
        }
    }
}
`;
      const file = path.join(dirs.configs, `${phase}-nginx.conf`);
      writeFileSync(file, cfg);
      return spawnProxy(bin!, ['-p', prefix, '-e', `${prefix}/error.log`, '-c', file], port, file.replace(/\.conf$/, '.log'));
    },
  };
}

/** @param longhaulBurst longhaul's `pool.burst` policy (`open` is its default). */
export function allContenders(longhaulBurst = 'open'): Contender[] {
  const hap = findTool('haproxy');
  const ngx = findTool('nginx');
  return [direct, longhaul('uws', longhaulBurst), longhaul('node', longhaulBurst), haproxy('always', hap), haproxy('safe', hap), nginx(ngx)];
}
