/**
 * The farm server's routes (every response also carries `x-server: <name>`, `x-conn-id: <id>`
 * and `x-conn-request: <n>`, set by farm-server.ts):
 *   GET|HEAD /hello              → `hello from <name>`
 *   GET|HEAD /bytes/<n>[?chunked=1] → n bytes, byte i = i % 251; Content-Length, or chunked
 *   POST|PUT /echo               → the body back, with x-body-sha256 / x-body-length headers
 *                                  (buffered); `?stream=1` streams it back chunked and sends
 *                                  those two as trailers
 *   GET|HEAD /slow/<ms>          → answers `slow <ms>` no earlier than ms after the request head
 *   GET|HEAD /health             → 200 `ok` (or behavior.healthStatus)
 *   ANY /status/<code>           → that status (200..599)
 * Every request body is read completely (and hashed into the request log) before a response
 * starts, except for `/echo?stream=1`.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FarmBehavior } from './farm-behavior.js';
import type { RequestRecord } from './farm-stats.js';

/** Pattern chunk length: a multiple of 251 so that every chunk starts at byte value 0. */
const PATTERN = Buffer.from(Array.from({ length: 251 * 256 }, (_, i) => i % 251));

interface BodyResult {
  sha256: string;
  length: number;
}

/**
 * Reads the whole request body into the log record; resolves null if the request is aborted
 * before its end. `onChunk` sees every chunk in order.
 */
function readBody(req: IncomingMessage, log: RequestRecord, onChunk?: (chunk: Buffer) => void): Promise<BodyResult | null> {
  return new Promise((resolveBody) => {
    const hash = createHash('sha256');
    let ended = false;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      log.bodyLength += chunk.length;
      onChunk?.(chunk);
    });
    req.on('end', () => {
      ended = true;
      log.bodySha256 = hash.digest('hex');
      resolveBody({ sha256: log.bodySha256, length: log.bodyLength });
    });
    req.on('close', () => {
      if (!ended) resolveBody(null);
    });
    req.on('error', () => {
      /* 'close' follows */
    });
  });
}

function text(res: ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(buf.length) });
  res.end(buf);
}

function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolveDrain) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolveDrain(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolveDrain(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

async function sendBytes(res: ServerResponse, n: number, chunked: boolean): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  if (!chunked) headers['content-length'] = String(n);
  res.writeHead(200, headers);
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  let remaining = n;
  while (remaining > 0) {
    if (res.destroyed) return;
    const chunk = PATTERN.subarray(0, Math.min(PATTERN.length, remaining));
    remaining -= chunk.length;
    if (!res.write(chunk) && !(await drained(res))) return;
  }
  res.end();
}

async function echo(req: IncomingMessage, res: ServerResponse, log: RequestRecord, stream: boolean): Promise<void> {
  if (!stream) {
    const chunks: Buffer[] = [];
    const body = await readBody(req, log, (c) => chunks.push(c));
    if (body === null) return;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-body-sha256': body.sha256,
      'x-body-length': String(body.length),
    });
    res.end(Buffer.concat(chunks));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', trailer: 'x-body-sha256, x-body-length' });
  res.flushHeaders();
  let paused = false;
  const body = await readBody(req, log, (c) => {
    if (!res.write(c) && !paused) {
      paused = true;
      req.pause();
      res.once('drain', () => {
        paused = false;
        req.resume();
      });
    }
  });
  if (body === null) return;
  res.addTrailers({ 'x-body-sha256': body.sha256, 'x-body-length': String(body.length) });
  res.end();
}

export async function handle(req: IncomingMessage, res: ServerResponse, log: RequestRecord, name: string, behavior: FarmBehavior): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://farm.invalid');
  const path = url.pathname;
  const method = req.method ?? '';
  const readOnly = method === 'GET' || method === 'HEAD';

  if (path === '/echo') {
    if (method !== 'POST' && method !== 'PUT') {
      if ((await readBody(req, log)) !== null) text(res, 405, 'method not allowed\n');
      return;
    }
    await echo(req, res, log, url.searchParams.get('stream') === '1');
    return;
  }

  const headAt = Date.now();
  if ((await readBody(req, log)) === null) return;

  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  const slow = /^\/slow\/(\d+)$/.exec(path);
  const status = /^\/status\/(\d{3})$/.exec(path);
  if (status !== null) {
    const code = Number(status[1]);
    if (code < 200 || code > 599) {
      text(res, 400, 'status must be 200..599\n');
    } else if (code === 204 || code === 304) {
      res.writeHead(code);
      res.end();
    } else {
      text(res, code, `status ${code}\n`);
    }
    return;
  }
  if (!readOnly && (bytes !== null || slow !== null || path === '/hello' || path === '/health')) {
    text(res, 405, 'method not allowed\n');
    return;
  }
  if (path === '/hello') {
    text(res, 200, `hello from ${name}`);
  } else if (path === '/health') {
    const code = behavior.healthStatus ?? 200;
    text(res, code, code === 200 ? 'ok' : `health ${code}\n`);
  } else if (bytes !== null) {
    await sendBytes(res, Number(bytes[1]), url.searchParams.get('chunked') === '1');
  } else if (slow !== null) {
    const ms = Number(slow[1]);
    const wait = headAt + ms - Date.now();
    if (wait > 0) {
      const completed = await new Promise<boolean>((resolveWait) => {
        const timer = setTimeout(() => resolveWait(true), wait);
        res.once('close', () => {
          clearTimeout(timer);
          resolveWait(false);
        });
      });
      if (!completed) return;
    }
    text(res, 200, `slow ${ms}`);
  } else {
    text(res, 404, 'not found\n');
  }
}
