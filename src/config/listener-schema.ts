/** The `listeners[]` section: bind address, engine, served certificates, client-side timeouts. */
import { z } from 'zod';
import { hostPort, isHostName } from './host-port.js';
import { forwardedForSchema } from './forwarded-schema.js';
import { allowSchema, listenerTlsPolicyKeys, maxConnSchema } from './listener-access-schema.js';
import { duration, filePath, name, need, oneOf, size } from './schema-scalars.js';

/** A name an SNI certificate serves: a host name, or `*.` + host name (one label). Lowercased. */
const sniName = () =>
  z.string({ error: need('must be a host name') }).transform((text, ctx) => {
    const name = text.toLowerCase();
    if (isHostName(name.startsWith('*.') ? name.slice(2) : name)) return name;
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a host name or *.host name` });
    return z.NEVER;
  });

const sniCertSchema = z.strictObject({
  cert: filePath(),
  key: filePath(),
  /** Absent: the certificate's DNS subjectAltNames (read at start, src/tls/served-cert.ts). */
  names: z.array(sniName(), { error: need('must be a list of host names') }).min(1, { error: 'must list at least one name (or leave names out)' }).optional(),
});

export const listenerSchema = z.strictObject({
  name: name(),
  bind: hostPort(true),
  /**
   * node (default): node:https + llhttp, the strict parser (issue 15). uws: opt-in, faster, with
   * parser gaps JS cannot close (README "Front engines"; `check` warns).
   */
  engine: oneOf(['uws', 'node']).default('node'),
  'forwarded-for': forwardedForSchema(),
  allow: allowSchema(),
  'max-conn': maxConnSchema(),
  tls: z.strictObject({
    cert: filePath(),
    key: filePath(),
    'sni-certs': z.array(sniCertSchema, { error: need('must be a list of { cert, key, names }') }).default([]),
    ...listenerTlsPolicyKeys,
  }),
  farm: name(),
  /** Bytes per second a request body must average over each timeouts.http-request window (issue 11 item 9). */
  'min-upload-rate': size().prefault('1KiB'),
  timeouts: z.strictObject({
    client: duration().prefault('30s'),
    'http-request': duration().prefault('10s'),
    'http-keep-alive': duration().prefault('10s'),
  }).prefault({}),
});
