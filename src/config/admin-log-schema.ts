/** The `admin` (HTTP admin endpoint) and `log` sections. */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { hostPort, isHostName } from './host-port.js';
import { bool, filePath, need, oneOf } from './schema-scalars.js';

/** Loopback binds only: 127.0.0.0/8, ::1, localhost. Anything else is reachable from the LAN. */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host.toLowerCase() === 'localhost';
}

export const adminSchema = z
  .strictObject({
    bind: hostPort(true).prefault('127.0.0.1:9900'),
    'token-file': filePath().nullable().default(null),
    /**
     * Further names the admin listener answers to in `Host` (a DNS name an operator uses for it);
     * its bind address, `localhost` and loopback addresses are always accepted (issue 15 item 5:
     * DNS rebinding).
     */
    hosts: z
      .array(z.string({ error: need('must be a host name') }).refine((h) => isHostName(h) || /^[0-9.]+$/.test(h) || /^\[?[0-9a-fA-F:]+\]?$/.test(h), { error: 'must be a host name or an IP address' }), { error: need('must be a list of host names') })
      .default([]),
  })
  .superRefine((a, ctx) => {
    // A non-loopback admin listener without a token lets anyone on the office LAN drain the farm.
    if (a.bind && typeof a.bind === 'object' && !isLoopbackHost(a.bind.host) && a['token-file'] === null) {
      ctx.addIssue({ code: 'custom', path: ['bind'], message: `admin.bind ${a.bind.host}:${a.bind.port} is not a loopback address: set admin.token-file, or bind to 127.0.0.1` });
    }
  });

/** `stdout`, `stderr` or `file:<absolute path>` (reopened on SIGUSR1, for logrotate). */
const destination = () =>
  z.string({ error: need('must be stdout, stderr or file:<absolute path>') }).refine(
    (d) => d === 'stdout' || d === 'stderr' || (d.startsWith('file:') && isAbsolute(d.slice(5))),
    { error: (iss) => `must be stdout, stderr or file:<absolute path>, got "${String(iss.input)}"` },
  );

export const logSchema = z.strictObject({
  level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  access: bool().default(true),
  destination: destination().default('stdout'),
});
