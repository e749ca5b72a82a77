// LAN throughput, repeated, for before/after comparisons on a noisy machine:
//
//   npx tsx bench/lan-profile.ts [--reps 3] [--duration 5] [--only "longhaul uws,haproxy always"]
//                               [--servers 1] [--cpu-prof DIR] [--node-arg=--flag ...] [--compare DIR]
//
// One farm process (bench/farm-process.ts, no RTT, --servers TLS servers), every contender
// started once (spawn → TCP accept = "start ms"), then for each repetition and each contender in
// turn: wrk -t1 -c32 -dNs keep-alive, then the same with `Connection: close` (interleaved, so the
// contenders share the machine's noise). Prints median [min–max] req/s, and the proxy's RSS
// (VmRSS after the runs, VmHWM = peak), and the proxy's CPU time per request (user + system from
// /proc/PID/stat over each run / requests wrk completed): the figure least skewed by other load. `--cpu-prof DIR` runs longhaul with node --cpu-prof and
// leaves the .cpuprofile in DIR (read it with bench/cpuprofile-top.ts).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findTool, haproxy, longhaul, nginx, type Contender, type Running } from './contenders.js';
import { startFarm } from './farm.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    only: { type: 'string', default: 'longhaul node,haproxy always,nginx' },
    servers: { type: 'string', default: '1' },
    'cpu-prof': { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    /** Also run the longhaul of another checkout (e.g. `git archive REV | tar -x -C DIR`), as "longhaul ENGINE (DIR)". */
    compare: { type: 'string' },
    /** Engine of the --compare checkout: node (the default engine since issue 15) or uws. */
    'compare-engine': { type: 'string', default: 'node' },
    /** Node flags for the --compare checkout instead of --node-arg (A/B of a V8 flag: --compare . --node-arg=--flag). */
    'compare-node-arg': { type: 'string', multiple: true },
  },
});
const reps = Number(values.reps);
const seconds = Number(values.duration);
const wrkBin = findTool('wrk');
if (wrkBin === null) throw new Error('wrk is not installed (apt-get install wrk)');

const nodeArgs = [...values['node-arg']!];
if (values['cpu-prof']) {
  mkdirSync(values['cpu-prof'], { recursive: true });
  nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(values['cpu-prof'])}`);
}
const all: Contender[] = [
  longhaul('uws', 'open', nodeArgs),
  longhaul('node', 'open', nodeArgs),
  haproxy('always', findTool('haproxy')),
  haproxy('safe', findTool('haproxy')),
  nginx(findTool('nginx')),
];
if (values.compare) all.unshift(longhaul(values['compare-engine'] === 'uws' ? 'uws' : 'node', 'open', values['compare-node-arg'] ?? nodeArgs, path.resolve(values.compare), ` (${values.compare}${values['compare-node-arg'] ? ` ${values['compare-node-arg'].join(' ')}` : ''})`));
const wanted = values.only!.split(',').map((s) => s.trim());
const contenders = all.filter((c) => (wanted.includes(c.name) || c.name.includes(`(${values.compare}`)) && c.missing === null);

/** The process and its children (nginx's worker runs under its master). */
function family(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...kids];
  } catch {
    return [pid];
  }
}

/** Proxy CPU time (user + system) in ms, from /proc/PID/stat, children included. */
function cpuMs(pid: number): number {
  let ms = 0;
  for (const p of family(pid)) {
    const f = readFileSync(`/proc/${p}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    ms += ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // utime, stime in clock ticks (100/s)
  }
  return ms;
}

/** req/s, and the proxy's CPU µs per request over the run (robust to other load on the machine). */
async function measure(pid: number, port: number, close: boolean): Promise<{ rps: number; cpuUs: number }> {
  const c0 = cpuMs(pid);
  const r = await wrk(port, close);
  return { rps: r.rps, cpuUs: r.total > 0 ? ((cpuMs(pid) - c0) * 1000) / r.total : NaN };
}

function wrk(port: number, close: boolean): Promise<{ rps: number; total: number }> {
  const args = ['-t1', '-c32', `-d${seconds}s`, '--timeout', '2s', ...(close ? ['-H', 'Connection: close'] : []), `https://127.0.0.1:${port}/hello`];
  return new Promise((resolve) => {
    execFile(wrkBin!, args, { encoding: 'utf8', timeout: (seconds + 15) * 1000 }, (_err, out) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out ?? '');
      const bad = /Non-2xx or 3xx responses: (\d+)/.exec(out ?? '');
      if (bad) process.stderr.write(`  (non-2xx: ${bad[1]})\n`);
      const total = /(\d+) requests in/.exec(out ?? '');
      resolve({ rps: rps ? Number(rps[1]) : 0, total: total ? Number(total[1]) : 0 });
    });
  });
}

/** VmRSS / VmHWM in MiB, summed over the process and its children. */
function procStatus(pid: number, key: string): number {
  let mib = 0;
  for (const p of family(pid)) {
    try {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      mib += m ? Number(m[1]) / 1024 : 0;
    } catch {
      // gone
    }
  }
  return mib;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;

const dirs = { configs: mkdtempSync(path.join(os.tmpdir(), 'longhaul-lan-')), secrets: mkdtempSync(path.join(os.tmpdir(), 'longhaul-lan-s-')) };
const load0 = os.loadavg().map((l) => l.toFixed(1)).join(' ');
const farm = await startFarm(0, Number(values.servers));
const running: { c: Contender; r: Running; ka: number[]; close: number[]; kaCpu: number[]; closeCpu: number[] }[] = [];
try {
  for (const c of contenders) running.push({ c, r: await c.start(farm, dirs, 'lan'), ka: [], close: [], kaCpu: [], closeCpu: [] });
  // Warm-up, untimed: JIT, pools, TLS session caches — both paths, since `Connection: close` runs
  // code (TLS accept, socket set-up) that keep-alive requests never reach.
  for (const x of running) {
    await wrk(x.r.ports[0]!, false);
    await wrk(x.r.ports[0]!, true);
  }
  for (let i = 0; i < reps; i++) {
    for (const x of running) {
      const ka = await measure(x.r.pid!, x.r.ports[0]!, false);
      const cl = await measure(x.r.pid!, x.r.ports[0]!, true);
      x.ka.push(ka.rps);
      x.kaCpu.push(ka.cpuUs);
      x.close.push(cl.rps);
      x.closeCpu.push(cl.cpuUs);
      process.stderr.write(`[lan] rep ${i + 1} ${x.c.name}: ka ${ka.rps.toFixed(0)} req/s ${ka.cpuUs.toFixed(0)} µs/req, close ${cl.rps.toFixed(0)} req/s ${cl.cpuUs.toFixed(0)} µs/req\n`);
    }
  }
  console.log(`\nwrk -t1 -c32 -d${seconds}s GET /hello, ${reps} reps, farm servers ${values.servers}, load at start ${load0}, at end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| contender | keep-alive req/s median [min–max] | proxy CPU µs/req | close req/s median [min–max] | proxy CPU µs/req | RSS MiB | peak RSS MiB | start ms |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const x of running) {
    const pid = x.r.pid!;
    console.log(`| ${x.c.name} | ${fmt(x.ka)} | ${fmt(x.kaCpu)} | ${fmt(x.close)} | ${fmt(x.closeCpu)} | ${procStatus(pid, 'VmRSS').toFixed(1)} | ${procStatus(pid, 'VmHWM').toFixed(1)} | ${x.r.readyMs.toFixed(0)} |`);
  }
} finally {
  for (const x of running) await x.r.stop();
  farm.stop();
}
