import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { CLI } from '../helpers/cli-child.js';

// `npm start` runs `longhaul demo`; this runs the same code with a short RTT and --once.
t.test('longhaul demo prints the direct-vs-gateway comparison', async (t) => {
  const child = spawn(process.execPath, [...CLI, 'demo', '--once', '--rtt', '20', '--requests', '5', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 0, err);
  const direct = /direct to farm\s+[\d.]+ ms\s+[\d.]+ ms\s+(\d+)/.exec(out);
  const via = /through longhaul\s+[\d.]+ ms\s+[\d.]+ ms\s+(\d+)/.exec(out);
  t.ok(direct && via, out);
  t.equal(Number(direct?.[1]), 5, 'every direct request paid a backend handshake');
  t.equal(Number(via?.[1]), 0, 'no request through the warm gateway did');
});
