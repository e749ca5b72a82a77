#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `longhaul` works from a fresh clone
// without a build step; `npm run build` still produces dist/ for type checking.
import { register } from 'tsx/esm/api';
register();
await import('../src/main/cli.ts');
