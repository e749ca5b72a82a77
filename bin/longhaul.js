#!/usr/bin/env node
// Production entry: runs the compiled dist/ only (`npm run build` makes it; `npm pack` ships it).
// No transpiler at run time and no fallback to the sources: a stale or missing build must be a
// visible error, not a silent switch (issue 12 item 1). Development runs the sources with
// `npm run longhaul -- …` (tsx, a devDependency). The gateway is this one node process: a
// signal sent to its PID (systemd's $MAINPID, --pid-file) reaches it directly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';

// Memory default (issue 14 item 3, README "Memory"): V8's young generation may grow to 2 × 16 MiB
// semi-spaces under load, which the gateway's short-lived per-request garbage fills and RSS then
// keeps. Growth factor 1 keeps it at its initial 1 MiB semi-spaces (what `--max-semi-space-size=1`
// does; that flag only works on the command line, this one is read by V8 each time it would grow,
// so it also holds under systemd's `node bin/longhaul.js`). Measured in bench/memory-profile.ts and
// bench/lan-profile.ts (README). An explicit semi-space flag on the command line or in NODE_OPTIONS
// wins, and LONGHAUL_V8_DEFAULTS=0 turns this off.
const userFlags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
if (process.env.LONGHAUL_V8_DEFAULTS !== '0' && !/semi[-_]space/.test(userFlags)) {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist/main/cli.js');

if (!existsSync(compiled)) {
  process.stderr.write(
    `longhaul: ${compiled} is missing: this checkout has not been built.\n` +
      `  run \`npm run build\` in ${root} (needs the dev dependencies: \`npm ci\`),\n` +
      `  or install a packed release (\`npm pack\`, which builds and ships dist/).\n`,
  );
  process.exit(2);
}
await import(pathToFileURL(compiled).href);
