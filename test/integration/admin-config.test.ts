import t from 'tap';
import { loadConfigText } from '../../src/config/load-config.js';
import { pkiFiles } from '../helpers/pki-files.js';

t.test('log.destination and admin.hosts: validated, every error reported at once with its key path', async (t) => {
  const f = await pkiFiles();
  const text = (extra: string) => `listeners:
  - name: clients
    bind: 127.0.0.1:0
    tls: { cert: ${f.gatewayCert}, key: ${f.gatewayKey} }
    farm: farm
${extra}farms:
  - name: farm
    tls: { ca: ${f.caFile}, sni: farm.test }
    servers:
      - { name: a, address: 127.0.0.1:9443 }
`;
  for (const d of ['stdout', 'stderr', 'file:/var/log/longhaul/gw.log']) {
    const r = loadConfigText(text(`log: { destination: "${d}" }\n`), {}, f.dir);
    t.ok(r.ok, `${d} accepted`);
    if (r.ok) t.equal(r.config.log.destination, d);
  }
  const bad = loadConfigText(text('log: { destination: "file:logs/gw.log" }\nadmin: { hosts: ["bad host!", 42] }\n'), {}, f.dir);
  t.notOk(bad.ok);
  if (!bad.ok) {
    const paths = bad.issues.map((i) => i.path);
    t.ok(paths.includes('log.destination'), 'a relative file path is refused at log.destination');
    t.ok(paths.includes('admin.hosts[0]') && paths.includes('admin.hosts[1]'), `both bad hosts named: ${paths.join(', ')}`);
  }
  const hosts = loadConfigText(text('admin: { bind: "127.0.0.1:9900", hosts: [gw-admin.office.example, 10.1.2.3] }\n'), {}, f.dir);
  t.ok(hosts.ok);
  if (hosts.ok) t.same(hosts.config.admin!.hosts, ['gw-admin.office.example', '10.1.2.3']);
});
