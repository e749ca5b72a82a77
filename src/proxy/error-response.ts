import { STATUS_CODES } from 'node:http';
import type { ResponseSink } from '../core/types.js';

/**
 * A short plain-text error answer made by the gateway itself (502/503/504 …). The error code
 * is stable (src/core/errors.ts) so operators can grep for it. Returns the status sent, or 0
 * when the client was already gone or already had a response head.
 */
export function sendErrorResponse(sink: ResponseSink, status: number, code: string): number {
  if (sink.aborted) return 0;
  if (sink.started) {
    sink.destroy();
    return 0;
  }
  const body = Buffer.from(`${status} ${STATUS_CODES[status] ?? ''}: ${code}\n`);
  sink.start(
    status,
    STATUS_CODES[status] ?? '',
    [
      ['content-type', 'text/plain; charset=utf-8'],
      ['x-longhaul-error', code],
      ['cache-control', 'no-store'],
    ],
    body.length,
    false,
  );
  sink.write(body);
  sink.end();
  return status;
}
