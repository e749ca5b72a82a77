/** `tls.ciphers` (listeners and farms): an OpenSSL TLS 1.2 cipher list. */
import tls from 'node:tls';
import { z } from 'zod';
import { need } from './schema-scalars.js';

/** Checked by OpenSSL itself (the same list `run` hands it), so `check` refuses what `run` would. */
export const cipherList = () =>
  z.string({ error: need('must be an OpenSSL cipher list') }).min(1, { error: 'must not be empty' }).superRefine((text, ctx) => {
    try {
      tls.createSecureContext({ ciphers: text });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `OpenSSL refuses the cipher list "${text}" (${(err as Error).message})` });
    }
  });

