import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A real DNS server on loopback for discovery tests: dnsmasq (Debian dnsmasq-base) serving the
 * names of a hosts file the test rewrites (setRecords sends SIGHUP, which re-reads it), with
 * `--local=/test/` so unknown `.test` names get NXDOMAIN instead of REFUSED. stop() kills it (the
 * resolver "going away"); start() brings it back on the same port.
 */
export interface Dnsmasq {
  port: number;
  address: string;
  setRecords(lines: string[]): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Extra dnsmasq arguments (e.g. `--srv-host=…`), read by the next start(). */
  extra: string[];
}

export function dnsmasqMissing(): string | false {
  const r = spawnSync('dnsmasq', ['--version'], { stdio: 'ignore' });
  return r.error || r.status !== 0 ? 'dnsmasq is not installed (Debian package dnsmasq-base; .ci/run installs it)' : false;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.on('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startDnsmasq(initial: string[], extra: string[] = []): Promise<Dnsmasq> {
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-dns-'));
  const hosts = path.join(dir, 'hosts');
  writeFileSync(hosts, initial.join('\n') + '\n');
  const port = await freeUdpPort();
  let child: ChildProcess | null = null;
  const self = { extra };
  const start = async (): Promise<void> => {
    const c = spawn(
      'dnsmasq',
      ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`, '--local=/test/', '--local-ttl=1', '--log-facility=-', '--conf-file=/dev/null', '--user=', '--pid-file=', ...self.extra],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    // A test that dies must not leave its DNS server behind.
    const reap = () => c.kill('SIGKILL');
    process.once('exit', reap);
    c.once('exit', () => process.off('exit', reap));
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    // dnsmasq logs "read <file> - N names" once it serves.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dnsmasq did not start: ${err}`)), 5000);
      const onData = () => {
        if (/read .*hosts - \d+ names/.test(err)) {
          clearTimeout(timer);
          c.stderr!.off('data', onData);
          resolve();
        }
      };
      c.stderr!.on('data', onData);
      c.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`dnsmasq exited (${code}): ${err}`));
      });
    });
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    get extra() {
      return self.extra;
    },
    set extra(v: string[]) {
      self.extra = v;
    },
    port,
    address: `127.0.0.1:${port}`,
    start,
    stop,
    async setRecords(lines) {
      writeFileSync(hosts, lines.join('\n') + '\n');
      const c = child;
      if (!c) return;
      // Wait for the re-read, so the next query sees the new file.
      await new Promise<void>((resolve) => {
        const onData = (d: Buffer) => {
          if (/read .*hosts - \d+ names/.test(d.toString())) {
            c.stderr!.off('data', onData);
            resolve();
          }
        };
        c.stderr!.on('data', onData);
        c.kill('SIGHUP');
      });
    },
  };
}
