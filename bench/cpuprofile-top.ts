// Summarizes a V8 .cpuprofile (node --cpu-prof):
//   npx tsx bench/cpuprofile-top.ts FILE.cpuprofile [--top 25]
// Prints the top functions by self time (everything), and by inclusive time for functions of
// our own src/ (or its build, dist/; a function's time counted once per sample even when it recurses).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);
const prof = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile;

const byId = new Map<number, Node>();
const parent = new Map<number, number>();
for (const n of prof.nodes) {
  byId.set(n.id, n);
  for (const c of n.children ?? []) parent.set(c, n.id);
}
const label = (n: Node): string => {
  const f = n.callFrame;
  const url = f.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/(src|dist|bench)\//, "$1/");
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
};

// Sample weights: timeDeltas[i] is the time before sample i.
const selfUs = new Map<number, number>();
let totalUs = 0;
let idleUs = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  const id = prof.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  totalUs += dt;
  const name = byId.get(id)?.callFrame.functionName;
  if (name === '(idle)') idleUs += dt;
}

const self = new Map<string, number>();
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const l = label(n);
  self.set(l, (self.get(l) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const cn = byId.get(cur)!;
    if (!/\/(src|dist)\//.test(cn.callFrame.url)) continue;
    const cl = label(cn);
    if (seen.has(cl)) continue;
    seen.add(cl);
    incl.set(cl, (incl.get(cl) ?? 0) + us);
  }
}

const busy = totalUs - idleUs;
const pct = (us: number): string => `${((100 * us) / busy).toFixed(1)}%`.padStart(6);
console.log(`profile ${(totalUs / 1e6).toFixed(1)} s, idle ${(idleUs / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (percentages of busy)`);
console.log(`\ntop ${top} by self time:`);
for (const [l, us] of [...self].filter(([l]) => !l.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${l}`);
console.log(`\ntop ${top} of src/ by inclusive time:`);
for (const [l, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${l}`);
