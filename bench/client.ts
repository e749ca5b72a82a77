// Client primitives with a per-request deadline, so that a stalled contender costs at most the
// timeout and is counted instead of hanging the bench.
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

export interface Target {
  host: string;
  /** One port per server (direct to the farm) or a single proxy port. */
  ports: number[];
  ca: string;
  servername: string;
}

export type Outcome = { ok: true; ms: number } | { ok: false; kind: 'timeout' | 'error' | 'status'; detail: string };

/**
 * The Java-style client: a new TLS connection, ONE request with `Connection: close`, read the
 * whole answer, the connection is gone. Latency includes TCP + TLS setup.
 */
export function oneShot(t: Target, port: number, timeoutMs: number, method = 'GET', path = '/hello', body?: Buffer): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = https.request(
      {
        host: t.host,
        port,
        path,
        method,
        ca: t.ca,
        servername: t.servername,
        agent: false,
        headers: { connection: 'close', ...(body ? { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          finish(status === 200 ? { ok: true, ms: performance.now() - started } : { ok: false, kind: 'status', detail: String(status) });
        });
        res.on('error', (e) => finish({ ok: false, kind: 'error', detail: e.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, kind: 'timeout', detail: `${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => finish({ ok: false, kind: 'error', detail: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

/** A few undici keep-alive connections (pipelining 1) to one port. */
export function keepAlivePool(t: Target, port: number, connections: number): Pool {
  return new Pool(`https://${t.host}:${port}`, {
    connections,
    pipelining: 1,
    connect: { ca: t.ca, servername: t.servername },
    keepAliveTimeout: 30_000,
  });
}

export async function keepAliveRequest(pool: Pool, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await pool.request({ path: '/hello', method: 'GET', signal });
    await res.body.dump();
    if (res.statusCode !== 200) return { ok: false, kind: 'status', detail: String(res.statusCode) };
    return { ok: true, ms: performance.now() - started };
  } catch (e) {
    if (signal.aborted) return { ok: false, kind: 'timeout', detail: `${timeoutMs} ms` };
    return { ok: false, kind: 'error', detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
  }
}
