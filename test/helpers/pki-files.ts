import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateTestPki, type TestPki } from '../../src/certs/dev-certs.js';

export interface PkiFiles {
  pki: TestPki;
  dir: string;
  caFile: string;
  gatewayCert: string;
  gatewayKey: string;
  farmCert: string;
  farmKey: string;
}

let cached: Promise<PkiFiles> | null = null;

/** A CA, a gateway leaf and a farm leaf, made at test start (node-forge) and written to a temp dir. */
export function pkiFiles(): Promise<PkiFiles> {
  cached ??= generateTestPki().then((pki) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-pki-'));
    const w = (name: string, data: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, data, { mode: 0o600 });
      return p;
    };
    return {
      pki,
      dir,
      caFile: w('ca.pem', pki.ca.certPem),
      gatewayCert: w('gateway.crt', pki.gateway.certPem),
      gatewayKey: w('gateway.key', pki.gateway.keyPem),
      farmCert: w('farm.crt', pki.farm.certPem),
      farmKey: w('farm.key', pki.farm.keyPem),
    };
  });
  return cached;
}
