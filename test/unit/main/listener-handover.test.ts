// src/main/listener-handover.ts, the new process's side: which inherited descriptor belongs to
// which listener (kind, name, configured host, port), read once from LONGHAUL_LISTEN_FDS, and
// the ones no listener took are closed.
import { fstatSync, openSync } from 'node:fs';
import t from 'tap';
import { silentLogger } from '../../../src/core/logger.js';
import { InheritedSockets, LISTEN_FDS_ENV } from '../../../src/main/listener-handover.js';

t.test('take by kind, name, host and port; read once; bad JSON is an error', async (t) => {
  const env: NodeJS.ProcessEnv = {
    [LISTEN_FDS_ENV]: JSON.stringify([
      { kind: 'listener', name: 'clients', host: '0.0.0.0', port: 8443, fd: 4 },
      { kind: 'listener', name: 'other', host: '127.0.0.1', port: 9443, fd: 5 },
      { kind: 'admin', name: 'admin', host: '127.0.0.1', port: 9900, fd: 6 },
      { kind: 'listener', name: 'stdio?', host: '127.0.0.1', port: 1, fd: 1 },
    ]),
  };
  const s = InheritedSockets.fromEnv(env)!;
  t.notOk(LISTEN_FDS_ENV in env, 'removed from the environment (a later upgrade passes its own)');
  t.equal(s.take('listener', 'clients', '127.0.0.1', 8443), undefined, 'another host: not this socket');
  t.equal(s.take('listener', 'clients', '0.0.0.0', 8444), undefined, 'another port: not this socket');
  t.equal(s.take('admin', 'clients', '0.0.0.0', 8443), undefined, 'another kind: not this socket');
  t.equal(s.take('listener', 'clients', '0.0.0.0', 8443), 4);
  t.equal(s.take('listener', 'clients', '0.0.0.0', 8443), undefined, 'taken once');
  t.equal(s.take('admin', 'admin', '127.0.0.1', 0), 6, 'port 0 in the config: any port');
  t.equal(s.take('listener', 'stdio?', '127.0.0.1', 1), undefined, 'descriptors below 4 (stdio, IPC) are never taken');
  t.equal(InheritedSockets.fromEnv({}), null, 'no variable: not an upgrade');
  t.throws(() => InheritedSockets.fromEnv({ [LISTEN_FDS_ENV]: '{nope' }), /LONGHAUL_LISTEN_FDS/);
});

t.test('closeUnused closes the descriptors no listener took', async (t) => {
  // Any descriptor will do for the bookkeeping (a socket owned by a node handle cannot be closed
  // behind libuv's back): /dev/null, opened here.
  const fd = openSync('/dev/null', 'r');
  t.ok(fd >= 4, `a descriptor above stdio and IPC (${fd})`);
  const s = InheritedSockets.fromEnv({ [LISTEN_FDS_ENV]: JSON.stringify([{ kind: 'listener', name: 'gone', host: '127.0.0.1', port: 1, fd }]) })!;
  t.ok(fstatSync(fd), 'open before');
  s.closeUnused(silentLogger);
  t.throws(() => fstatSync(fd), { code: 'EBADF' }, 'closed after');
});
