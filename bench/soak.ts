// npm run soak [-- --requests 1000000] [--engine node|uws] [--close-every 10] [--concurrency 16]
//
// Soak (issue 11 "Prove it"): N requests (default 1,000,000) through one longhaul process,
// keep-alive and `Connection: close` mixed (one in --close-every is a fresh TLS connection with
// one request and Connection: close; the others ride --concurrency undici keep-alive
// connections), small bodies (GET /hello; every third request a POST /echo of 0–2 KiB).
// Prints the gateway's RSS (from /proc/<pid>/status, the process under test only; the farm and
// this client are other processes) at start, every 100k requests (or every tenth of N) and at
// the end, and the growth; failures are counted by kind, never retried.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { oneShot, type Target } from './client.js';
import { longhaul } from './contenders.js';
import { startFarm } from './farm.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    engine: { type: 'string', default: 'node' },
    'close-every': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
  },
});
const total = Number(values.requests);
const engine = values.engine === 'uws' ? 'uws' : 'node';
const closeEvery = Math.max(1, Number(values['close-every']));
const concurrency = Math.max(1, Number(values.concurrency));
const step = total >= 1_000_000 ? 100_000 : Math.max(1, Math.round(total / 10));
const timeoutMs = 10_000;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const farm = await startFarm(0, 2);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'longhaul-soak-'));
const dirs = { configs: path.join(tmp, 'configs'), secrets: path.join(tmp, 'secrets') };
mkdirSync(dirs.configs);
mkdirSync(dirs.secrets);
const gw = await longhaul(engine, 'open').start(farm, dirs, 'soak');
const pid = gw.pid!;
// Interrupted (Ctrl-C, timeout): stop the gateway and farm processes, leave nothing behind.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void gw.stop().finally(() => {
      farm.stop();
      rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  });
const target: Target = { host: '127.0.0.1', ports: gw.ports, ca: farm.ca, servername: 'localhost' };
const port = gw.ports[0]!;
const pool = new Pool(`https://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1, connect: { ca: farm.ca, servername: 'localhost' }, keepAliveTimeout: 30_000 });

const failures: Record<string, number> = {};
const fail = (k: string): void => void (failures[k] = (failures[k] ?? 0) + 1);
const curve: Array<{ requests: number; rssMiB: number; s: number }> = [];
const t0 = performance.now();
const mark = (n: number): void => {
  const point = { requests: n, rssMiB: Math.round(rssMiB(pid) * 10) / 10, s: Math.round((performance.now() - t0) / 100) / 10 };
  curve.push(point);
  process.stdout.write(`soak ${engine}: ${String(n).padStart(8)} requests  rss ${point.rssMiB.toFixed(1)} MiB  ${point.s} s${Object.keys(failures).length ? `  failures ${JSON.stringify(failures)}` : ''}\n`);
};

async function keepAlive(i: number): Promise<void> {
  const post = i % 3 === 0;
  const body = post ? Buffer.alloc(i % 2048, 0x61) : undefined;
  try {
    const res = await pool.request({ path: post ? '/echo' : '/hello', method: post ? 'POST' : 'GET', body, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    if (res.statusCode !== 200) fail(`status ${res.statusCode}`);
  } catch (e) {
    fail((e as NodeJS.ErrnoException).code ?? (e as Error).name);
  }
}

async function close(i: number): Promise<void> {
  const post = i % 3 === 0;
  const o = await oneShot(target, port, timeoutMs, post ? 'POST' : 'GET', post ? '/echo' : '/hello', post ? Buffer.alloc(i % 2048, 0x62) : undefined);
  if (!o.ok) fail(`${o.kind} ${o.detail}`);
}

mark(0);
let next = 0;
let done = 0;
// The Connection: close clients run beside the keep-alive ones (a fresh TLS connection each).
await Promise.all(
  Array.from({ length: concurrency + 2 }, async () => {
    while (next < total) {
      const i = next++;
      await (i % closeEvery === closeEvery - 1 ? close(i) : keepAlive(i));
      done++;
      if (done % step === 0 && done < total) mark(done);
    }
  }),
);
mark(total);
await pool.close();
// Idle a moment so the curve's last point is not mid-burst garbage.
await new Promise((r) => setTimeout(r, 2000));
mark(total);
const first = curve[0]!.rssMiB;
const peak = Math.max(...curve.map((c) => c.rssMiB));
const last = curve[curve.length - 1]!.rssMiB;
const sec = (performance.now() - t0) / 1000;
process.stdout.write(
  `soak ${engine}: ${total} requests in ${sec.toFixed(1)} s (${Math.round(total / sec)}/s; 1 in ${closeEvery} Connection: close), rss start ${first} MiB, peak ${peak} MiB, end ${last} MiB (growth ${(last - first).toFixed(1)} MiB), failures ${JSON.stringify(failures)}\n`,
);
await gw.stop();
farm.stop();
rmSync(tmp, { recursive: true, force: true });
