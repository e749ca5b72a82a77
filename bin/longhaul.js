#!/usr/bin/env node
// Production entry: runs the compiled dist/ only (`npm run build` makes it; `npm pack` ships it).
// No transpiler at run time and no fallback to the sources: a stale or missing build must be a
// visible error, not a silent switch (issue 12 item 1). Development runs the sources with
// `npm run longhaul -- …` (tsx, a devDependency). The gateway is this one node process: a
// signal sent to its PID (systemd's $MAINPID, --pid-file) reaches it directly.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

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
