// Memory scenario (issue 14 item 4): what a proxy process holds with many idle clients and a
// full backend pool, interleaved contenders, bounded in time:
//
//   npx tsx bench/memory-profile.ts [--idle 1000] [--pooled 100] [--only "longhaul node,haproxy always,nginx"]
//                                  [--node-arg=--flag ...] [--compare DIR] [--reps 1]
//
// For each contender in turn (one running at a time, so RSS is its own): start it against the
// same farm process (2 TLS servers, no RTT; bench/farm-process.ts), then
//  1. "start": VmRSS 1 s after its port accepted TCP;
//  2. "pooled": --pooled concurrent `GET /slow/1500` with `Connection: close`, so the proxy opens
//     that many backend connections (max-conn = pooled / 2 per server) which then stay idle in
//     its pool (the farm's count of open connections is printed to show they did);
//  3. "idle clients": --idle client TLS connections, each sends one keep-alive `GET /hello`, reads
//     the answer and stays open and idle (client keep-alive timeouts are raised to 120 s for
//     this scenario, in every contender's config);
//  then VmRSS and VmHWM (peak since start) of the proxy process tree, and the run time.
// A stage that takes longer than its bound is reported as cut and the next contender runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { oneShot, type Target } from './client.js';
import { findTool, haproxy, longhaul, nginx, type Contender, type Knobs, type Running } from './contenders.js';
import { startFarm, type Farm } from './farm.js';
import { processTree } from './measure.js';

const { values } = parseArgs({
  options: {
    idle: { type: 'string', default: '1000' },
    pooled: { type: 'string', default: '100' },
    reps: { type: 'string', default: '1' },
    only: { type: 'string', default: 'longhaul node,haproxy always,nginx' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    /** Also run the longhaul (node engine) of another checkout, as "longhaul node (DIR)". */
    compare: { type: 'string' },
  },
});
const idle = Number(values.idle);
const pooled = Number(values.pooled);
const reps = Number(values.reps);
const SERVERS = 2;
const over: Partial<Knobs> & { minIdle: number } = { maxConnPerServer: Math.ceil(pooled / SERVERS), keepAliveS: 120, clientS: 120, minIdle: 0 };
const nodeArgs = [...values['node-arg']!];

const all: Contender[] = [
  longhaul('node', 'open', nodeArgs, undefined, '', over),
  longhaul('uws', 'open', nodeArgs, undefined, '', over),
  haproxy('always', findTool('haproxy'), over),
  nginx(findTool('nginx'), over),
];
if (values.compare) all.unshift(longhaul('node', 'open', nodeArgs, path.resolve(values.compare), ` (${values.compare})`, over));
const wanted = values.only!.split(',').map((s) => s.trim());
const contenders = all.filter((c) => (wanted.includes(c.name) || c.name.endsWith(`(${values.compare})`)) && c.missing === null);

function statusMiB(pid: number, key: string): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kib += m ? Number(m[1]) : 0;
    } catch {
      // gone
    }
  }
  return kib / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with what `work` gave, or with 'cut' after ms. */
function bounded<T>(ms: number, work: Promise<T>): Promise<T | 'cut'> {
  let t: NodeJS.Timeout;
  return Promise.race([work, new Promise<'cut'>((r) => (t = setTimeout(() => r('cut'), ms)))]).finally(() => clearTimeout(t));
}

/** One idle keep-alive client: TLS, one GET, answer read, left open. */
function idleClient(port: number, ca: string, out: tls.TLSSocket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => s.write('GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    out.push(s);
    let seen = '';
    s.on('error', () => resolve(false));
    s.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (seen.endsWith('hello from s1') || seen.endsWith('hello from s2')) resolve(seen.startsWith('HTTP/1.1 200'));
    });
    s.on('close', () => resolve(false));
  });
}

interface Row {
  name: string;
  start: number;
  pooledRss: number;
  backendOpen: number;
  idleRss: number;
  /** RssAnon: the process's own pages (heap, malloc), without the mapped binary and libraries. */
  idleAnon: number;
  startAnon: number;
  idleOk: number;
  peak: number;
  seconds: number;
  note: string;
}

async function scenario(c: Contender, farm: Farm, dirs: { configs: string; secrets: string }): Promise<Row> {
  const t0 = Date.now();
  const r: Running = await c.start(farm, dirs, 'mem');
  const row: Row = { name: c.name, start: NaN, pooledRss: NaN, backendOpen: NaN, idleRss: NaN, idleAnon: NaN, startAnon: NaN, idleOk: 0, peak: NaN, seconds: NaN, note: '' };
  const sockets: tls.TLSSocket[] = [];
  try {
    const pid = r.pid!;
    await sleep(1000);
    row.start = statusMiB(pid, 'VmRSS');
    row.startAnon = statusMiB(pid, 'RssAnon');
    const target: Target = { host: '127.0.0.1', ports: r.ports, ca: farm.ca, servername: 'localhost' };
    const pooledRun = await bounded(30_000, Promise.all(Array.from({ length: pooled }, () => oneShot(target, r.ports[0]!, 20_000, 'GET', '/slow/1500'))));
    if (pooledRun === 'cut') row.note += 'pooled stage cut at 30 s; ';
    else {
      const bad = pooledRun.filter((o) => !o.ok).length;
      if (bad > 0) row.note += `${bad} pooled requests failed; `;
    }
    await sleep(500);
    row.backendOpen = (await farm.stats()).openConnections;
    row.pooledRss = statusMiB(pid, 'VmRSS');
    // Idle clients, 50 handshakes at a time (the client's own CPU is the bound here).
    const idleRun = await bounded(
      90_000,
      (async () => {
        for (let i = 0; i < idle; i += 50) {
          const got = await Promise.all(Array.from({ length: Math.min(50, idle - i) }, () => idleClient(r.ports[0]!, farm.ca, sockets)));
          row.idleOk += got.filter(Boolean).length;
        }
      })(),
    );
    if (idleRun === 'cut') row.note += `idle stage cut at 90 s (${row.idleOk} open); `;
    await sleep(1000);
    row.idleRss = statusMiB(pid, 'VmRSS');
    row.idleAnon = statusMiB(pid, 'RssAnon');
    row.peak = statusMiB(pid, 'VmHWM');
    if (r.exited() !== null) row.note += `proxy ${r.exited()}; `;
  } finally {
    for (const s of sockets) s.destroy();
    await r.stop();
  }
  row.seconds = (Date.now() - t0) / 1000;
  return row;
}

const dirs = { configs: mkdtempSync(path.join(os.tmpdir(), 'longhaul-mem-')), secrets: mkdtempSync(path.join(os.tmpdir(), 'longhaul-mem-s-')) };
const farm = await startFarm(0, SERVERS);
const rows: Row[] = [];
const load0 = os.loadavg().map((l) => l.toFixed(1)).join(' ');
try {
  for (let i = 0; i < reps; i++) {
    for (const c of contenders) {
      process.stderr.write(`[mem] rep ${i + 1} ${c.name}\n`);
      rows.push(await scenario(c, farm, dirs));
      await sleep(1500); // the farm sees the backend connections close
    }
  }
} finally {
  farm.stop();
  rmSync(dirs.secrets, { recursive: true, force: true });
}
console.log(`\nmemory scenario: ${pooled} pooled backend connections (GET /slow/1500 × ${pooled} at once, then idle) + ${idle} idle keep-alive client TLS connections; ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load ${load0} → ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('RSS = VmRSS (includes the mapped executable and libraries: for node ≈ 35–45 MiB of file pages shared with every node process); anon = RssAnon (heap, malloc: what the process itself holds).');
console.log('| contender | RSS after start MiB (anon) | RSS + pooled MiB | backend conns open (farm) | RSS + idle clients MiB (anon) | idle clients answered | peak RSS MiB | s | note |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const x of rows) {
  console.log(`| ${x.name} | ${x.start.toFixed(1)} (${x.startAnon.toFixed(1)}) | ${x.pooledRss.toFixed(1)} | ${x.backendOpen} | ${x.idleRss.toFixed(1)} (${x.idleAnon.toFixed(1)}) | ${x.idleOk} | ${x.peak.toFixed(1)} | ${x.seconds.toFixed(0)} | ${x.note} |`);
}
process.exit(0);
