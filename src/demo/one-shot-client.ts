import https from 'node:https';
import { performance } from 'node:perf_hooks';

export interface OneShotResult {
  status: number;
  body: Buffer;
  ms: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface OneShotOptions {
  host: string;
  port: number;
  path: string;
  ca: string | Buffer;
  servername?: string;
  method?: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

/**
 * The Java-style client of background 003: a new TLS connection, ONE request with
 * `Connection: close`, then the connection is gone. Latency includes TCP + TLS setup.
 */
export function oneShotRequest(o: OneShotOptions): Promise<OneShotResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: o.host,
        port: o.port,
        path: o.path,
        method: o.method ?? 'GET',
        ca: o.ca,
        servername: o.servername,
        agent: false,
        headers: { connection: 'close', ...(o.body ? { 'content-length': String(o.body.length) } : {}), ...o.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Percentile of a sample (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}
