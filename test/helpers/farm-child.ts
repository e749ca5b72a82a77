/**
 * A farm server in its own process, so that a test can SIGKILL it for real (test/helpers/
 * killable-farm.ts drives it over IPC). It starts, loads everything, and listens only when told
 * (`{kind:'listen', port}`): a replacement can thus be spawned while the old one still runs and
 * take over the port within milliseconds of the kill.
 *
 * Every request head is logged to LOG_FILE (`<method> <x-request-id>\n`) with a synchronous
 * append before anything else happens, so the log survives SIGKILL: it is the server's own
 * record of which requests it received. Answers: `POST|PUT` → the body back; anything else →
 * `hello`; each after RESPONSE_DELAY_MS (so that kills land on requests in flight).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const logFile = process.env.LOG_FILE!;
const delayMs = Number(process.env.RESPONSE_DELAY_MS ?? '10');
const server = createServer({ cert: readFileSync(process.env.CERT_FILE!), key: readFileSync(process.env.KEY_FILE!) }, (req, res) => {
  appendFileSync(logFile, `${req.method} ${String(req.headers['x-request-id'] ?? '-')}\n`);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    setTimeout(() => {
      const body = req.method === 'POST' || req.method === 'PUT' ? Buffer.concat(chunks) : Buffer.from('hello\n');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-server': process.env.NAME ?? '' });
      res.end(body);
    }, delayMs);
  });
});
server.keepAliveTimeout = 60_000;
let handshakes = 0;
server.on('secureConnection', () => handshakes++);

process.on('message', (m: { kind: string; port?: number }) => {
  if (m.kind === 'listen') {
    server.listen(m.port ?? 0, '127.0.0.1', () => process.send!({ kind: 'listening', port: (server.address() as AddressInfo).port }));
  } else if (m.kind === 'stats') {
    process.send!({ kind: 'stats', handshakes });
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ kind: 'ready' });
