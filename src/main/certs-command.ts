/**
 * `longhaul certs init|renew|inspect`: the branch office PKI (src/certs/branch-pki.ts) from the
 * command line. Exit codes: 0 done, 1 refused or failed (message on stderr), 2 usage error.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BranchPkiError, initBranchPki, renewGatewayCert, type BranchPkiPaths } from '../certs/branch-pki.js';
import { KEY_TYPES, type KeyType } from '../certs/certificate-builder.js';
import { formatInspect, inspectFile } from '../certs/cert-inspect.js';

const SAN_OPTIONS = {
  dns: { type: 'string', multiple: true, default: [] as string[] },
  ip: { type: 'string', multiple: true, default: [] as string[] },
  out: { type: 'string', default: 'certs' },
  'key-type': { type: 'string' },
  days: { type: 'string' },
} as const;

class UsageError extends Error {}

function keyType(v: string | undefined): KeyType | undefined {
  if (v === undefined) return undefined;
  if (!(KEY_TYPES as readonly string[]).includes(v)) throw new UsageError(`--key-type must be one of: ${KEY_TYPES.join(', ')}`);
  return v as KeyType;
}

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--days must be a positive integer');
  return n;
}

function report(what: string, p: BranchPkiPaths, withCa: boolean): string {
  const files = withCa
    ? [`${p.caCert}`, `${p.caKey} (0600)`, p.cert, `${p.key} (0600)`, p.truststore, `${p.truststorePassword} (0600)`]
    : [p.cert, `${p.key} (0600)`];
  return `${what}:\n${files.map((f) => `  ${f}`).join('\n')}\n`;
}

/** `args`: everything after `certs`. Returns the exit code; `usage(msg)` prints usage and returns 2. */
export async function runCertsCommand(args: string[], usage: (problem: string) => number): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'init': {
        const { values } = parseArgs({ args: rest, options: { ...SAN_OPTIONS, force: { type: 'boolean', default: false } } });
        const p = await initBranchPki({ dir: values.out, dns: values.dns, ip: values.ip, keyType: keyType(values['key-type']), days: days(values.days), force: values.force });
        process.stdout.write(report('wrote', p, true));
        return 0;
      }
      case 'renew': {
        const { values } = parseArgs({ args: rest, options: SAN_OPTIONS });
        const p = await renewGatewayCert({ dir: values.out, dns: values.dns, ip: values.ip, keyType: keyType(values['key-type']), days: days(values.days) });
        process.stdout.write(report('renewed (the CA and the truststore are unchanged)', p, false));
        return 0;
      }
      case 'inspect': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { password: { type: 'string' }, 'password-file': { type: 'string' } },
        });
        if (positionals.length !== 1) return usage('certs inspect needs exactly one FILE');
        const file = positionals[0]!;
        const password = values.password ?? (values['password-file'] ? readFileSync(values['password-file'], 'utf8').trim() : undefined);
        process.stdout.write(formatInspect(file, await inspectFile(file, password)));
        return 0;
      }
      default:
        return usage(sub ? `unknown certs command: ${sub}` : 'certs needs init, renew or inspect');
    }
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usage((err as Error).message);
    const known = err instanceof BranchPkiError || (err as { code?: string }).code === 'ENOENT';
    process.stderr.write(`longhaul certs ${sub}: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
    return 1;
  }
}
