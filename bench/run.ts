// npm run bench [-- --quick] [--rtt 100]
// Issue 2's report: Connection: close clients over an emulated WAN, direct vs through longhaul
// (p50/p99 and backend handshakes per 100 requests), and LAN keep-alive req/s (wrk) through
// longhaul vs the farm direct. Results go to stdout and bench/results/.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { oneShotRequest, percentile } from '../src/demo/one-shot-client.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rtt: { type: 'string', default: '100' }, engine: { type: 'string', default: 'uws' } } });
const quick = values.quick!;
const rtt = Number(values.rtt);
const engine = values.engine!;

interface Farm {
  child: ChildProcess;
  ca: string;
  gatewayCert: string;
  gatewayKey: string;
  ports: number[];
  stats(): Promise<{ handshakes: number; requests: number }>;
}

function startFarm(rttMs: number): Promise<Farm> {
  const child = fork(path.join(ROOT, 'bench/farm-process.ts'), { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_RTT_MS: String(rttMs) } });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { ca: string; gatewayCert: string; gatewayKey: string; ports: number[] }) => {
      resolve({
        child,
        ...m,
        stats: () =>
          new Promise((r) => {
            child.once('message', (s: { handshakes: number; requests: number }) => r(s));
            child.send({ kind: 'stats' });
          }),
      });
    });
  });
}

async function startGateway(farm: Farm, dir: string, pool: string): Promise<{ child: ChildProcess; port: number }> {
  const w = (n: string, d: string) => {
    const p = path.join(dir, n);
    writeFileSync(p, d, { mode: 0o600 });
    return p;
  };
  const port = 20000 + Math.floor(Math.random() * 20000);
  const cfg = `listeners:
  - { name: clients, bind: 127.0.0.1:${port}, engine: ${engine}, farm: f, tls: { cert: ${w('gw.crt', farm.gatewayCert)}, key: ${w('gw.key', farm.gatewayKey)} } }
log: { level: warn, access: false }
farms:
  - name: f
    tls: { ca: ${w('ca.pem', farm.ca)}, sni: farm.test }
    pool: ${pool}
    servers:
${farm.ports.map((p, i) => `      - { name: s${i + 1}, address: 127.0.0.1:${p} }`).join('\n')}
`;
  const file = w('longhaul.yaml', cfg);
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/longhaul.js'), 'run', '--config', file], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    try {
      const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: farm.ca, servername: 'localhost' });
      if (r.status === 200) return { child, port };
    } catch {
      // not up yet
    }
  }
  throw new Error('gateway did not start');
}

async function closeProfile(label: string, port: number, farm: Farm, n: number, servername: string): Promise<string> {
  const before = await farm.stats();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await oneShotRequest({ host: '127.0.0.1', port, path: '/hello', ca: farm.ca, servername });
    if (r.status !== 200) throw new Error(`${label}: status ${r.status}`);
    ms.push(r.ms);
  }
  const after = await farm.stats();
  const hsPer100 = ((after.handshakes - before.handshakes) / n) * 100;
  return `| ${label} | ${n} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 90).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} | ${hsPer100.toFixed(1)} |`;
}

function wrk(url: string, seconds: number, extra: string[] = []): number {
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, ...extra, url], { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(out);
  if (errors) process.stderr.write(`wrk ${url}: ${errors[0]}\n`);
  return m ? Number(m[1]) : NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'longhaul-bench-'));
const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  process.stdout.write(s + '\n');
};
say(`# longhaul bench — ${new Date().toISOString()}`);
say(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, engine ${engine}`);
say('');

// WAN: Connection: close clients, sequential, new TLS connection each.
{
  const n = quick ? 30 : 100;
  const farm = await startFarm(rtt);
  const gw = await startGateway(farm, dir, '{ max-conn: 4, min-idle: 2 }');
  await sleep(3 * rtt + 500); // min-idle warm-up
  say(`## Connection: close clients, ${rtt} ms emulated RTT, sequential`);
  say('| path | requests | p50 ms | p90 ms | p99 ms | backend handshakes / 100 req |');
  say('|---|---|---|---|---|---|');
  say(await closeProfile('direct to farm', farm.ports[0]!, farm, n, 'farm.test'));
  say(await closeProfile('through longhaul', gw.port, farm, n, 'localhost'));
  say('');
  gw.child.kill('SIGTERM');
  farm.child.send({ kind: 'exit' });
}

// LAN: wrk, keep-alive and Connection: close, one proxy process.
{
  let hasWrk = true;
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (e) {
    hasWrk = (e as { status?: number }).status === 1; // wrk --version exits 1 but exists
  }
  if (!hasWrk) {
    say('## LAN: skipped — wrk is not installed (Debian: apt-get install wrk)');
  } else {
    const secs = quick ? 5 : 15;
    const farm = await startFarm(0);
    const gw = await startGateway(farm, dir, '{ max-conn: 32 }');
    say(`## LAN keep-alive TLS → TLS, wrk -t1 -c32 -d${secs}s, GET /hello`);
    say('| target | keep-alive req/s | Connection: close req/s |');
    say('|---|---|---|');
    const d = `https://127.0.0.1:${farm.ports[0]}/hello`;
    const g = `https://127.0.0.1:${gw.port}/hello`;
    say(`| farm direct (one server) | ${wrk(d, secs).toFixed(0)} | ${wrk(d, secs, ['-H', 'Connection: close']).toFixed(0)} |`);
    say(`| through longhaul (${engine}) | ${wrk(g, secs).toFixed(0)} | ${wrk(g, secs, ['-H', 'Connection: close']).toFixed(0)} |`);
    gw.child.kill('SIGTERM');
    farm.child.send({ kind: 'exit' });
  }
}

mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
const file = path.join(ROOT, 'bench/results', `bench-${Date.now()}.md`);
writeFileSync(file, lines.join('\n') + '\n');
process.stdout.write(`\nwritten to ${path.relative(process.cwd(), file)}\n`);
process.exit(0);
