/**
 * Polls `cond` until it holds: bounded in count (`tries`) and so in time; throws naming `what`
 * when it never does. Tests wait for states with this; they never assert on durations.
 */
export async function until(cond: () => boolean, what: string, tries = 200, everyMs = 25): Promise<number> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return i;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for: ${what} (${tries} tries)`);
}
