// What the parts longhaul is built from cost per request on this machine, with no proxy logic
// at all: the floor under longhaul's LAN figure (issue 5: "where longhaul is behind, profile it").
//
//   npx tsx bench/stack-floor.ts [--requests 20000] [--warm 20000]
//
// Every part is measured WARM (issue 14): the same work is run first, untimed (--warm requests,
// or a 3 s wrk run for the uWS front), so the figures are JIT-compiled code, not the
// interpreter and the compiler threads.
//
// 1. uWS front floor: a uWS SSLApp answering "hello" itself (no backend), under
//    wrk -t1 -c32 -d5s; CPU of that process per request (user + system from /proc).
// 2. node:tls backend floor: 12 keep-alive TLS connections to the bench farm, each writing a
//    fixed GET and reading the response bytes, no HTTP parsing; CPU of this process per request.
// 3. undici codec floor: the same 12 connections as undici Clients (pipelining 1) driven with
//    client.dispatch and a handler that only counts, as src/proxy/exchange.ts uses them.
// longhaul's own LAN figure (bench/lan-profile.ts) pays 1 + 3 plus its glue.
import { execFile, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import type { Client as UndiciClient, Dispatcher } from 'undici';
import { findTool } from './contenders.js';
import { startFarm } from './farm.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, warm: { type: 'string', default: '20000' } } });
const total = Number(values.requests);
const warmTotal = Number(values.warm);
const CONNS = 12;
const farm = await startFarm(0, 1);
const port = farm.ports[0]!;
const dir = mkdtempSync(path.join(os.tmpdir(), 'longhaul-floor-'));
const rows: string[] = [];

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat; USER_HZ = 100). */
function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const usOf = (c: NodeJS.CpuUsage, n: number): string => `${((c.user + c.system) / n).toFixed(0)} (user ${(c.user / n).toFixed(0)}, sys ${(c.system / n).toFixed(0)})`;

try {
  // 1. uWS front floor, in its own process.
  const wrk = findTool('wrk');
  if (wrk === null) rows.push('| uWS SSLApp answering itself | wrk not installed | — |');
  else {
    writeFileSync(path.join(dir, 'gw.crt'), farm.gatewayCert);
    writeFileSync(path.join(dir, 'gw.key'), farm.gatewayKey);
    const script = path.join(dir, 'uws-hello.cjs');
    writeFileSync(
      script,
      `const uws = require(${JSON.stringify(path.resolve('node_modules/@based/uws'))});
const app = uws.SSLApp({ cert_file_name: ${JSON.stringify(path.join(dir, 'gw.crt'))}, key_file_name: ${JSON.stringify(path.join(dir, 'gw.key'))} });
const body = Buffer.from('hello from s1');
app.any('/*', (res) => res.cork(() => { res.writeStatus('200 OK'); res.writeHeader('content-type', 'text/plain'); res.end(body); }));
app.listen('127.0.0.1', 0, (ls) => process.send(uws.us_socket_local_port(ls)));`,
    );
    const child = fork(script, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const uwsPort = await new Promise<number>((r) => child.once('message', (p) => r(Number(p))));
    await new Promise<void>((r) => execFile(wrk, ['-t1', '-c32', '-d3s', `https://127.0.0.1:${uwsPort}/hello`], () => r())); // warm-up, untimed
    const before = cpuSecondsOf(child.pid!);
    const out = await new Promise<string>((r) => execFile(wrk, ['-t1', '-c32', '-d5s', `https://127.0.0.1:${uwsPort}/hello`], (_e, o) => r(o ?? '')));
    const cpu = cpuSecondsOf(child.pid!) - before;
    const n = Number(/(\d+) requests in/.exec(out)?.[1] ?? 'NaN');
    child.kill();
    rows.push(`| uWS SSLApp answering itself (front floor) | ${((cpu * 1e6) / n).toFixed(0)} | wrk -t1 -c32 -d5s, ${n} requests |`);
  }

  // 2. node:tls, no HTTP parsing: one request, read until the known body has arrived.
  const request = Buffer.from('GET /hello HTTP/1.1\r\nhost: farm.test\r\n\r\n');
  const per = Math.ceil(total / CONNS);
  const warmPer = Math.ceil(warmTotal / CONNS);
  {
    const sockets = await Promise.all(
      Array.from({ length: CONNS }, () => new Promise<tls.TLSSocket>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: farm.ca, servername: farm.sni }, () => resolve(s));
        s.once('error', reject);
      })),
    );
    const run = (n: number): Promise<unknown> =>
      Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              let left = n;
              let seen = '';
              const onData = (d: Buffer): void => {
                seen += d.toString('latin1');
                if (!seen.endsWith('hello from s1')) return;
                seen = '';
                if (--left > 0) s.write(request);
                else {
                  s.off('data', onData);
                  resolve();
                }
              };
              s.on('data', onData);
              s.write(request);
            }),
        ),
      );
    await run(warmPer); // warm-up, untimed
    const c0 = process.cpuUsage();
    await run(per);
    const c = process.cpuUsage(c0);
    for (const s of sockets) s.destroy();
    rows.push(`| node:tls write + read, no parsing (backend floor) | ${usOf(c, per * CONNS)} | ${CONNS} connections × ${per} |`);
  }

  // 3. undici Client.dispatch, as the gateway drove it before its own codec (skipped once undici is gone).
  const undici = await import('undici').catch(() => null);
  if (undici === null) rows.push('| undici Client.dispatch | undici not installed | — |');
  else {
    const { Client } = undici;
    const clients: UndiciClient[] = Array.from({ length: CONNS }, () => new Client(`https://127.0.0.1:${port}`, { pipelining: 1, connect: { ca: farm.ca, servername: farm.sni } }));
    const one = (client: UndiciClient): Promise<void> =>
      new Promise((resolve, reject) => {
        const handler: Dispatcher.DispatchHandler = {
          onConnect() {},
          onHeaders: () => true,
          onData: () => true,
          onComplete: () => resolve(),
          onError: reject,
        };
        client.dispatch({ method: 'GET', path: '/hello', headers: ['host', 'farm.test'] } as Dispatcher.DispatchOptions, handler);
      });
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < warmPer; i++) await one(c); // connect and warm up outside the measurement
    }));
    const c0 = process.cpuUsage();
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < per; i++) await one(c);
    }));
    const c = process.cpuUsage(c0);
    await Promise.all(clients.map((c) => c.close()));
    rows.push(`| undici Client.dispatch, counting handler (backend codec floor) | ${usOf(c, per * CONNS)} | ${CONNS} clients × ${per}, pipelining 1 |`);
  }
} finally {
  farm.stop();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`stack floor (warm: ${warmTotal} requests / 3 s of wrk first), ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| part | CPU µs per request | how |');
console.log('|---|---|---|');
for (const r of rows) console.log(r);
process.exit(0);
