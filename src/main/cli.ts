import { parseArgs } from 'node:util';
import { loadConfigFile, formatIssues, type LoadResult } from '../config/load-config.js';
import { configWarnings } from '../config/cross-checks.js';
import { createLogger } from '../core/logger.js';
// Text only; the certs code itself is imported lazily below.
import { CERTS_USAGE } from './certs-usage.js';

const USAGE = `usage: longhaul <command> [options]

  demo [--rtt MS] [--requests N] [--port P] [--once]
                          run the built-in demo on loopback (the default command)
  run --config FILE [--pid-file FILE] [--reuse-port]
                          run the gateway (SIGHUP reloads the config and certificates;
                          SIGUSR2 upgrades: starts this command line again with the listening
                          sockets, and drains once the new process is ready);
                          --reuse-port: share the ports with another longhaul (handover, README
                          "Install and upgrade"); without it a port in use refuses the start
  check --config FILE     the checks run makes before starting (config, certificates, keys, CA
                          bundles, token file); prints every error with its key path
  upgrade --pid-file FILE [--timeout S]
                          SIGUSR2 to the gateway in FILE, then wait: exit 0 once FILE names the
                          new process, 1 if it failed (the gateway's log says why) or timed out
  admin ACTION ...        talk to a running gateway's admin listener (longhaul admin help)
${CERTS_USAGE}  help                    this text
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'demo', ...rest] = argv;
  switch (command) {
    case 'check': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } } });
      if (!values.config) return usage('check needs --config FILE');
      const r = await loadForStart(values.config);
      if (!r.ok) {
        process.stderr.write(`${values.config}: ${r.issues.length} error(s)\n${formatIssues(r.issues)}\n`);
        return 1;
      }
      const warnings = configWarnings(r.config);
      if (warnings.length > 0) process.stderr.write(`${values.config}: ${warnings.length} warning(s)\n${formatIssues(warnings)}\n`);
      process.stdout.write(`${values.config}: ok (${r.config.listeners.length} listener(s), ${r.config.farms.length} farm(s), ${r.config.farms.reduce((n, f) => n + f.servers.length, 0)} server(s))\n`);
      return 0;
    }
    case 'run': {
      const { values } = parseArgs({
        args: rest,
        options: { config: { type: 'string', short: 'c' }, 'pid-file': { type: 'string' }, 'reuse-port': { type: 'boolean', default: false } },
      });
      if (!values.config) return usage('run needs --config FILE');
      // SIGUSR2 upgrade (listener-handover.ts): this process may be the new one, started by the old.
      const handover = await import('./listener-handover.js');
      // Until the upgrade handler is in place a SIGUSR2 must not kill the process (node's default).
      const early = (): void => void process.stderr.write('longhaul: SIGUSR2 while starting: ignored\n');
      process.on('SIGUSR2', early);
      const r = await loadForStart(values.config);
      if (!r.ok) {
        process.stderr.write(`${values.config}: ${r.issues.length} error(s); not starting\n${formatIssues(r.issues)}\n`);
        await handover.reportUpgradeFailure(`${values.config}: ${r.issues.length} error(s): ${formatIssues(r.issues)}`);
        return 1;
      }
      const { Gateway } = await import('./gateway.js');
      const { notifyService } = await import('./service-notify.js');
      const log = createLogger(r.config.log.level, { destination: r.config.log.destination, quietStdout: r.config.listeners.some((l) => l.engine === 'uws') });
      for (const w of configWarnings(r.config)) log.warn({ key: w.path }, w.message);
      let gw;
      try {
        const inherited = handover.InheritedSockets.fromEnv();
        gw = await Gateway.start(r.config, log, { reusePort: values['reuse-port'], inherited });
        inherited?.closeUnused(log);
      } catch (err) {
        // The preflight has read every file; what is left is binding (address in use…) and races
        // with files changed since. Both are refusals with a message, never a stack trace.
        process.stderr.write(`${values.config}: not starting: ${(err as Error).message}\n`);
        await handover.reportUpgradeFailure(`not starting: ${(err as Error).message}`);
        return 1;
      }
      // Before the pid file names this process: a SIGUSR2 sent to it finds the handler.
      const upgrade = new handover.ListenerHandover(gw, log, { reusePort: values['reuse-port'], logDestination: r.config.log.destination ?? 'stdout' });
      upgrade.onSignal('SIGUSR2');
      process.off('SIGUSR2', early);
      const pidFile = values['pid-file'];
      const { writePidFile, removePidFile } = await import('./pid-file.js');
      if (pidFile) writePidFile(pidFile);
      const upgraded = handover.isUpgradeChild();
      log.info({ pid: process.pid, pid_file: pidFile ?? null, reuse_port: values['reuse-port'], upgraded_from: upgraded ? Number(process.env[handover.UPGRADE_FROM_ENV]) : null }, 'ready');
      // After an upgrade, systemd is told the new MAINPID before the old process may exit.
      const readyNotice = notifyService({ kind: 'ready', status: `listening: ${gw.listeners.map((l) => `${l.name} :${l.port}`).join(', ')}`, ...(upgraded ? { mainPid: process.pid } : {}) }, log);
      if (upgraded) await readyNotice.then(() => handover.reportUpgradeReady());
      const file = values.config;
      // SIGHUP: reload the config file (a bad file is reported, every issue, and ignored), then
      // re-read the listeners' certificates (failures are logged; the old ones keep serving).
      const onHup = (): void => {
        log.info({ file }, 'SIGHUP: reloading the configuration');
        const result = gw.reloadFromFile(file);
        if (result.ok) log.info({ warnings: result.warnings.length }, 'configuration reloaded');
        try {
          gw.reloadCertificates();
        } catch {
          // logged by reloadCertificates
        }
      };
      process.on('SIGHUP', onHup);
      const why = await Promise.race([untilSignal().then(() => 'signal' as const), upgrade.handedOver.then(() => 'upgrade' as const)]);
      process.off('SIGHUP', onHup);
      // The SIGUSR2 handler stays until exit: while draining it logs "no upgrade" (node's default would kill the drain).
      upgrade.abort();
      // Handed over: the service goes on in the new process (its MAINPID); no STOPPING=1.
      if (why === 'signal') void notifyService({ kind: 'stopping' }, log);
      log.info({ grace_ms: gw.config.shutdownGrace }, 'stopping: no new connections; in-flight requests finish');
      // A second SIGTERM / SIGINT while draining: stop waiting.
      const force = (): void => {
        log.warn('second signal while stopping: exiting now');
        process.exit(1);
      };
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      await gw.stop();
      if (pidFile) removePidFile(pidFile);
      log.info('stopped');
      return 0;
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { rtt: { type: 'string', default: '80' }, requests: { type: 'string', default: '20' }, port: { type: 'string', default: '8443' }, once: { type: 'boolean', default: false } },
      });
      // Loaded lazily: `check` must not need uWS or the demo's dependencies.
      const { runDemo } = await import('./demo.js');
      const demo = await runDemo({ rttMs: Number(values.rtt), requests: Number(values.requests), port: Number(values.port), stay: !values.once });
      if (!values.once) await untilSignal();
      await demo.stop();
      return 0;
    }
    case 'admin': {
      // Loaded lazily: a small HTTP client, needs neither uWS nor the gateway.
      const { runAdminCli } = await import('./admin-cli.js');
      return runAdminCli(rest);
    }
    case 'upgrade': {
      const { runUpgradeCommand } = await import('./upgrade-command.js');
      return runUpgradeCommand(rest, usage);
    }
    case 'certs': {
      const { runCertsCommand } = await import('./certs-command.js');
      return runCertsCommand(rest, usage);
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      return usage(`unknown command: ${command}`);
  }
}

/** The config file, loaded and preflighted: what `check` reports is what `run` refuses. */
async function loadForStart(file: string): Promise<LoadResult> {
  const r = loadConfigFile(file);
  if (!r.ok) return r;
  const { preflight } = await import('./preflight.js');
  const issues = preflight(r.config);
  return issues.length > 0 ? { ok: false, issues } : r;
}

function usage(problem: string): number {
  process.stderr.write(`longhaul: ${problem}\n\n${USAGE}`);
  return 2;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`longhaul: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
