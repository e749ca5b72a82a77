/**
 * Seeded chaos, engine: node (issue 11 "Prove it"; chaos-run.ts says what runs and what is
 * checked). CHAOS_SEED / CHAOS_SECONDS (per engine) hunt longer.
 */
import t from 'tap';
import { runChaos } from './chaos-run.js';

t.test('chaos: node engine keeps every invariant', async (t) => {
  const s = await runChaos(t, 'node');
  t.ok(s.requests > 0, `${s.requests} requests ran (${s.rounds.clients} + ${s.rounds.all} rounds)`);
  for (const line of s.violations.slice(0, 40)) t.comment(`VIOLATION ${line.replace(/\n\s*/g, " | ")}`);
  t.equal(s.violations.length, 0, 'no invariant was broken');
});
