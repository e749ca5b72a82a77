/**
 * The uWebSockets.js native module (@based/uws) for the `engine: uws` front, loaded lazily, and
 * small helpers around its objects. See uws-listener.ts for the engine overview.
 */
import { createRequire } from 'node:module';
import type { HttpResponse } from '@based/uws';

export type UwsModule = typeof import('@based/uws');

/** Request-head limit handed to uWS (its env var is read when the native module loads). */
export const UWS_MAX_HEADERS_SIZE = '16384';

let uwsModule: UwsModule | null = null;
export function loadUws(): UwsModule {
  if (uwsModule) return uwsModule;
  if (process.env.UWS_HTTP_MAX_HEADERS_SIZE === undefined) process.env.UWS_HTTP_MAX_HEADERS_SIZE = UWS_MAX_HEADERS_SIZE;
  uwsModule = createRequire(import.meta.url)('@based/uws') as UwsModule;
  return uwsModule;
}

/** Lowered method (uWS) → canonical uppercase, or null when the original cannot be recovered. */
const RECOVERABLE_METHOD_RE = /^[a-z0-9!#$%&'*+\-.]+$/;
export function restoreUwsMethod(lowered: string): string | null {
  return RECOVERABLE_METHOD_RE.test(lowered) ? lowered.toUpperCase() : null;
}

export function addressText(res: HttpResponse): string {
  try {
    return Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
  } catch {
    return '';
  }
}

export function pauseRes(res: HttpResponse): void {
  try {
    res.pause();
  } catch {
    // invalid: aborted
  }
}
export function resumeRes(res: HttpResponse): void {
  try {
    res.resume();
  } catch {
    // invalid: aborted
  }
}

export function noop(): void {}
