/**
 * Seeded chaos, engine: node (issue 11 "Prove it"; chaos-run.ts says what runs and what is
 * checked). CHAOS_SEED / CHAOS_SECONDS (per engine, default 25) hunt longer; CHAOS_ONLY replays
 * connections by id (test/chaos/FINDINGS.md).
 */
import t from 'tap';
import { runChaos, violationsByInvariant } from './chaos-run.js';

t.test('chaos: node engine keeps every invariant', async (t) => {
  const s = await runChaos(t, 'node');
  t.ok(s.requests > 0, `${s.requests} requests ran (${s.rounds.clients} + ${s.rounds.all} rounds)`);
  for (const line of s.violations) t.comment(`VIOLATION ${line}`);
  // One entry per broken invariant: how often, and the first violation with its seed and recipe.
  t.same(violationsByInvariant(s.violations), {}, 'no invariant was broken');
});
