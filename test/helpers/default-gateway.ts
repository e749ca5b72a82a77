/**
 * A gateway built the way a user builds it: from YAML through the real loader, so every key the
 * file leaves out takes the schema's default (engine included), in front of a recording backend
 * (recording-backend.ts). `listenerYaml` / `farmYaml` add indented lines to the listener / farm
 * (a `tls:` line in `listenerYaml` replaces the default one).
 */
import { silentLogger } from '../../src/core/logger.js';
import { formatIssues, loadConfigText } from '../../src/config/load-config.js';
import { Gateway } from '../../src/main/gateway.js';
import { pkiFiles } from './pki-files.js';
import { startRecordingBackend, type RecordingBackend } from './recording-backend.js';

export interface DefaultGateway {
  gateway: Gateway;
  port: number;
  backend: RecordingBackend;
  close(): Promise<void>;
}

export async function startDefaultGateway(listenerYaml = '', farmYaml = ''): Promise<DefaultGateway> {
  const f = await pkiFiles();
  const backend = await startRecordingBackend(f.pki.farm.certPem, f.pki.farm.keyPem);
  const text = `listeners:
  - name: clients
    bind: 127.0.0.1:0
${/^ {4}tls:/m.test(listenerYaml) ? '' : `    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} }\n`}    farm: farm
${listenerYaml}log: { level: silent, access: false }
farms:
  - name: farm
    tls: { ca: ${f.caFile}, sni: farm.test }
${farmYaml}    servers:
      - { name: rec, address: 127.0.0.1:${backend.port} }
`;
  const r = loadConfigText(text, {}, f.dir);
  if (!r.ok) {
    await backend.close();
    throw new Error(formatIssues(r.issues));
  }
  const gateway = await Gateway.start(r.config, silentLogger);
  return {
    gateway,
    port: gateway.listeners[0]!.port,
    backend,
    close: async () => {
      await gateway.stop();
      await backend.close();
    },
  };
}
