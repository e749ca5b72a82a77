/** The `admin` (HTTP admin endpoint) and `log` sections. */
import { z } from 'zod';
import { hostPort } from './host-port.js';
import { bool, filePath, oneOf } from './schema-scalars.js';

export const adminSchema = z.strictObject({
  bind: hostPort(true).prefault('127.0.0.1:9900'),
  'token-file': filePath().nullable().default(null),
});

export const logSchema = z.strictObject({
  level: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  access: bool().default(true),
});
