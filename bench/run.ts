// npm run bench [-- --quick] [--rtt 100] [--only "longhaul node,haproxy always"] [--no-lan] [--burst open]
//
// Compares, over the SAME farm (TLS HTTP/1.1 servers counting handshakes, keep-alive 300 s)
// behind the SAME WAN emulator: direct, longhaul (uws, node), HAProxy (http-reuse always / safe),
// nginx (upstream keepalive). Profiles: bench/profiles.ts; proxies and their generated configs:
// bench/contenders.ts; tables and chart: bench/report.ts. A LAN section (no RTT) runs wrk -t1.
// Missing haproxy/nginx/wrk are reported (never installed) and the rest is benchmarked.
// Output: stdout, and bench/results/<timestamp>.md + .svg, configs in bench/results/<timestamp>/.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { oneShot, type Target } from './client.js';
import { allContenders, findTool, KNOBS, type Contender, type Running } from './contenders.js';
import { startFarm, type Farm } from './farm.js';
import { PROFILES, runProfile, type Sizes } from './profiles.js';
import { aimsTable, coldTable, lanTable, svgChart, wanTable, type ColdStart, type LanRow, type WanCell } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rtt: { type: 'string', default: '100' },
    only: { type: 'string' },
    'no-lan': { type: 'boolean', default: false },
    /** longhaul pool.burst: open (its default) | adaptive */
    burst: { type: 'string', default: 'open' },
  },
});
const quick = values.quick!;
const rtt = Number(values.rtt);
const sizes: Sizes = quick
  ? { durationMs: 2000, sequential: 10, burstIdleMs: 2000, burstClients: 64, keepAliveConnections: 4, javaClients: 12, timeoutMs: 3000 }
  : { durationMs: 10_000, sequential: 50, burstIdleMs: 5000, burstClients: 64, keepAliveConnections: 4, javaClients: 12, timeoutMs: 10_000 };
const lanSeconds = quick ? 2 : 10;
const LAN_CONNS = 32;

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = path.join(ROOT, 'bench/results');
const configs = path.join(resultsDir, stamp);
mkdirSync(configs, { recursive: true });
const secrets = mkdtempSync(path.join(os.tmpdir(), 'longhaul-bench-'));
const dirs = { configs, secrets };

const progress = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
};

function firstLine(cmd: string | null, args: string[]): string | null {
  if (cmd === null) return null;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0]!.trim() || null;
}

const tools = {
  haproxy: findTool('haproxy'),
  nginx: findTool('nginx'),
  wrk: findTool('wrk'),
};
const missingTools = Object.entries(tools)
  .filter(([, p]) => p === null)
  .map(([n]) => n);
if (missingTools.length > 0) {
  process.stderr.write(`\nbench: not installed: ${missingTools.join(', ')} — those contenders/sections are skipped.\n  apt-get install haproxy nginx-light wrk\n\n`);
}

let contenders = allContenders(values.burst);
if (values.only !== undefined) {
  const wanted = new Set(['direct', ...values.only.split(',').map((s) => s.trim())]);
  contenders = contenders.filter((c) => wanted.has(c.name));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function tryStart(c: Contender, farm: Farm, phase: string): Promise<Running | string> {
  if (c.missing !== null) return `not installed (${c.missing})`;
  try {
    return await c.start(farm, dirs, phase);
  } catch (e) {
    return `failed to start: ${(e as Error).message.slice(0, 160)}`;
  }
}

function targetFor(farm: Farm, running: Running, c: Contender): Target {
  return { host: '127.0.0.1', ports: running.ports, ca: farm.ca, servername: c.name === 'direct' ? farm.sni : 'localhost' };
}

// ---------------------------------------------------------------- WAN
const cells: WanCell[] = [];
const cold: ColdStart[] = [];
async function wanPhase(): Promise<void> {
  progress(`WAN phase, RTT ${rtt} ms`);
  const farm = await startFarm(rtt);
  try {
    for (const c of contenders) {
      const running = await tryStart(c, farm, 'wan');
      if (typeof running === 'string') {
        progress(`${c.name}: ${running}`);
        cold.push({ contender: c.name, readyMs: null, firstMs: null, firstHandshakes: null, note: running });
        for (const p of PROFILES) cells.push({ contender: c.name, profile: p.name, result: null, note: running });
        continue;
      }
      try {
        const target = targetFor(farm, running, c);
        // Cold start: the first request right after the listener accepts connections.
        const before = await farm.stats();
        const first = await oneShot(target, target.ports[0]!, sizes.timeoutMs);
        const after = await farm.stats();
        cold.push({
          contender: c.name,
          readyMs: c.name === 'direct' ? null : running.readyMs,
          firstMs: first.ok ? first.ms : null,
          firstHandshakes: after.handshakes - before.handshakes,
          note: first.ok ? undefined : `failed (${first.kind} ${first.detail})`,
        });
        for (const p of PROFILES) {
          progress(`${c.name}: ${p.name}`);
          const r = await runProfile(p, running, farm, target, sizes);
          cells.push({ contender: c.name, profile: p.name, result: r });
          if (r.firstError !== null) progress(`  ${c.name} / ${p.name}: ${r.timeouts} timeouts, ${r.errors} errors, first: ${r.firstError}${r.aborted ? `; ${r.aborted}` : ''}`);
        }
      } finally {
        await running.stop();
      }
    }
  } finally {
    farm.stop();
  }
}

// ---------------------------------------------------------------- LAN (wrk)
const lan: LanRow[] = [];
function wrk(url: string, close: boolean): Promise<string> {
  const args = ['-t1', `-c${LAN_CONNS}`, `-d${lanSeconds}s`, '--timeout', '2s', ...(close ? ['-H', 'Connection: close'] : []), url];
  return new Promise((resolve) => {
    execFile(tools.wrk!, args, { encoding: 'utf8', timeout: (lanSeconds + 15) * 1000 }, (err, out) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out ?? '');
      const total = /(\d+) requests in/.exec(out ?? '');
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out ?? '');
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out ?? '');
      if (rps === null || total === null || Number(total[1]) === 0) {
        resolve(`failed (${err ? (err.killed ? 'wrk killed' : `wrk exit ${err.code}`) : 'no requests'}${sock ? `, timeouts ${sock[4]}` : ''})`);
        return;
      }
      const probs: string[] = [];
      if (sock) {
        const [, c, r, w, t] = sock.map(Number);
        if (t! > 0) probs.push(`${t} timeouts`);
        if (c! + r! + w! > 0) probs.push(`socket errors c${c}/r${r}/w${w}`);
      }
      if (non2xx) probs.push(`${non2xx[1]} non-2xx`);
      resolve(`${Number(rps[1]).toFixed(0)}${probs.length > 0 ? ` (${probs.join(', ')})` : ''}`);
    });
  });
}

async function lanPhase(): Promise<void> {
  if (values['no-lan']) return;
  if (tools.wrk === null) return;
  progress('LAN phase (wrk)');
  const farm = await startFarm(0);
  try {
    for (const c of contenders) {
      const running = await tryStart(c, farm, 'lan');
      if (typeof running === 'string') {
        lan.push({ contender: c.name, keepAlive: running, close: running });
        continue;
      }
      try {
        progress(`${c.name}: wrk`);
        const url = `https://127.0.0.1:${running.ports[0]}/hello`;
        const keepAlive = await wrk(url, false);
        const close = await wrk(url, true);
        lan.push({ contender: c.name + (c.name === 'direct' ? ' (one farm server)' : ''), keepAlive, close });
      } finally {
        await running.stop();
      }
      await sleep(200);
    }
  } finally {
    farm.stop();
  }
}

// ---------------------------------------------------------------- report
function report(partial: string | null): void {
  const cpu = os.cpus();
  say(`# longhaul bench — ${new Date().toISOString()}${quick ? ' (--quick)' : ''}`);
  say();
  say(`machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, node ${process.version}; load average at start ${loadAtStart} (other work on the machine skews LAN req/s and CPU)`);
  say(`peers: ${firstLine(tools.haproxy, ['-v']) ?? 'haproxy not installed'}; ${firstLine(tools.nginx, ['-v']) ?? 'nginx not installed'}; ${firstLine(tools.wrk, ['-v']) ?? 'wrk not installed'}`);
  if (missingTools.length > 0) say(`**not installed: ${missingTools.join(', ')}** — \`apt-get install haproxy nginx-light wrk\``);
  if (partial !== null) say(`**PARTIAL RESULTS: ${partial}**`);
  say();
  say(`Every proxy is one process, one thread/worker, on loopback; farm = 2 TLS HTTP/1.1 servers (keep-alive 300 s) in their own process, each behind a WAN relay (${rtt} ms RTT, connection setup costs one RTT).`);
  say(`Same knobs everywhere: ${KNOBS.maxConnPerServer} connections per server, idle ${KNOBS.idleTimeoutS} s, connect ${KNOBS.connectS} s, server ${KNOBS.serverS} s, queue ${KNOBS.queueS} s, client keep-alive ${KNOBS.keepAliveS} s. longhaul also keeps min-idle 2 warm and uses pool.burst ${values.burst} (no equivalent in the peers); nginx open source has no per-server queue, so it gets no max_conns (its idle cache is keepalive ${KNOBS.maxConnPerServer * 2}). HAProxy sends the constant SNI \`farm.test\` in both variants. Generated configs: \`bench/results/${stamp}/\`.`);
  say(`Per-request timeout ${sizes.timeoutMs / 1000} s; a profile stops launching requests after 3 timeouts. CPU and peak RSS are the proxy process (tree) only; peak RSS is reset (clear_refs) before each profile. Handshakes are counted by the farm servers.`);
  say();
  say(`## WAN, ${rtt} ms RTT`);
  say();
  for (const p of PROFILES) say(`- **${p.name}**: ${p.describe(sizes)}`);
  say();
  for (const l of wanTable(cells)) say(l);
  say();
  say('## Cold start (first Connection: close request once the listener accepts TCP)');
  say();
  for (const l of coldTable(cold)) say(l);
  say();
  if (values['no-lan']) say('## LAN: skipped (--no-lan)');
  else if (tools.wrk === null) say('## LAN: skipped — wrk is not installed (`apt-get install haproxy nginx-light wrk`)');
  else {
    say(`## LAN, no RTT: wrk -t1 -c${LAN_CONNS} -d${lanSeconds}s --timeout 2s, GET /hello`);
    say();
    for (const l of lanTable(lan)) say(l);
  }
  say();
  say(`## Aims (issue 5): longhaul node (the default engine) at ${rtt} ms RTT`);
  say();
  for (const l of aimsTable('longhaul node', cells, cold, lan, rtt)) say(l);
  say();
  say(`![p50/p99](${stamp}.svg)`);
  const md = lines.join('\n') + '\n';
  process.stdout.write(md);
  writeFileSync(path.join(resultsDir, `${stamp}.md`), md);
  writeFileSync(path.join(resultsDir, `${stamp}.svg`), svgChart(cells, `longhaul bench, ${rtt} ms RTT — p50 / p99 per profile`));
  process.stdout.write(`\nwritten to bench/results/${stamp}.md (+ .svg, configs in bench/results/${stamp}/)\n`);
}

// Hard bound on the whole run: whatever is measured by then is reported.
const budgetMs = quick ? 115_000 : 900_000;
const watchdog = setTimeout(() => {
  report(`the run exceeded ${budgetMs / 1000} s and was cut`);
  rmSync(secrets, { recursive: true, force: true });
  process.exit(1);
}, budgetMs);

const t0 = Date.now();
const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
await wanPhase();
await lanPhase();
clearTimeout(watchdog);
report(null);
process.stdout.write(`total ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
rmSync(secrets, { recursive: true, force: true });
process.exit(0);
