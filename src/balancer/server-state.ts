import type { HealthConfig } from '../config/config-types.js';

/**
 * Design "Server states". Only UP servers get new requests; DRAIN and MAINT let in-flight ones
 * finish; DOWN and MAINT close idle connections (done by the owner, BackendServer).
 */
export type ServerState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT';

/** What an operator set (admin API / CLI). `ready` = no admin override. */
export type AdminState = 'ready' | 'drain' | 'maint';

/**
 * One active check's verdict: `ok` = the expected status; `nolb` = 404 with `disable-on-404`
 * (HAProxy's NOLB: soft stop, background 002); `fail` = anything else, with why.
 */
export type CheckVerdict = { result: 'ok' } | { result: 'nolb' } | { result: 'fail'; reason: string };

export interface StateChange {
  from: ServerState;
  to: ServerState;
  reason: string;
}

export interface StateSnapshot {
  state: ServerState;
  admin: AdminState;
  /** Operational verdict of checks + observe, whatever the admin state. */
  operational: 'UP' | 'DOWN';
  /** Last check answered 404 with disable-on-404 (DRAIN until the expected status comes back). */
  nolb: boolean;
  /** Consecutive good checks while DOWN (rise counts these). */
  successes: number;
  /** Consecutive failed checks while UP (fall counts these). */
  failures: number;
  /** Consecutive observed live-traffic errors while UP (error-limit counts these). */
  observedErrors: number;
  /** Why the effective state last changed. */
  lastReason: string;
}

/**
 * The state of one server as three independent inputs, combined by precedence:
 *
 *   admin MAINT  >  operational DOWN  >  admin DRAIN or check NOLB  >  UP
 *
 * - admin (operator): only `setAdmin` changes it; checks never override it. MAINT pauses checks
 *   (HAProxy: "no more checks will be performed on the server until it leaves maintenance"), so
 *   results arriving while in MAINT are dropped.
 * - operational (checks, observe): UP → DOWN after `fall` consecutive failed checks or
 *   `error-limit` consecutive observed errors; DOWN → UP after `rise` consecutive good checks.
 *   A server starts UP but unproven: its first failed check takes it DOWN (HAProxy starts with
 *   health = rise, "up, but will fall down at first failure"); checks run at fastinter until
 *   the first answer.
 * - nolb (disable-on-404): a 404 counts as a good check for an UP server but stops new requests;
 *   the expected status clears it. For a DOWN server a 404 is not good (it stays DOWN).
 *
 * Leaving MAINT with checks on: operational DOWN with rise-1 good checks credited, so the first
 * good check (the owner runs one at once) brings it back; without checks: UP at once.
 *
 * Pure: no timers, no I/O. Every change of the effective state goes through #apply, which calls
 * `onChange` once with the reason (the owner logs it and closes connections).
 */
export class ServerStateMachine {
  #admin: AdminState = 'ready';
  #up = true;
  #nolb = false;
  #successes = 0;
  #failures = 0;
  #observedErrors = 0;
  /** UP from the start, no check answered yet: one failure is enough to go DOWN. */
  #unproven: boolean;
  #state: ServerState = 'UP';
  #lastReason = 'start';

  constructor(
    private readonly health: HealthConfig,
    private readonly onChange: (change: StateChange) => void = () => {},
  ) {
    this.#unproven = health.enabled;
  }

  get state(): ServerState {
    return this.#state;
  }

  get admin(): AdminState {
    return this.#admin;
  }

  /** Whether active checks should run now (configured, and not paused by MAINT). */
  get checking(): boolean {
    return this.health.enabled && this.#admin !== 'maint';
  }

  /**
   * Delay before the next check: `fastinter` while the operational state is changing (some
   * failures while UP, some successes while DOWN), `downinter` while DOWN, `inter` otherwise.
   */
  nextCheckIn(): number {
    const h = this.health;
    if (this.#up) return this.#failures > 0 || this.#unproven ? h.fastinter : h.inter;
    return this.#successes > 0 ? h.fastinter : h.downinter;
  }

  checkResult(v: CheckVerdict): void {
    if (!this.checking) return;
    const h = this.health;
    const unproven = this.#unproven;
    this.#unproven = false;
    if (v.result === 'ok') {
      const wasNolb = this.#nolb;
      this.#nolb = false;
      if (this.#up) {
        this.#failures = 0;
        return this.#apply(wasNolb ? 'health check answered the expected status again' : 'health check ok');
      }
      this.#successes++;
      if (this.#successes >= h.rise) {
        this.#setUp(true);
        return this.#apply(`${h.rise} consecutive good health check(s) (rise)`);
      }
      return;
    }
    if (v.result === 'nolb') {
      if (this.#up) {
        this.#failures = 0;
        this.#nolb = true;
        return this.#apply('health check answered 404 (disable-on-404): soft stop');
      }
      this.#successes = 0;
      return;
    }
    if (this.#up) {
      this.#failures++;
      if (unproven || this.#failures >= h.fall) {
        const why = unproven ? 'first health check failed' : `${this.#failures} consecutive failed health check(s) (fall)`;
        this.#setUp(false);
        return this.#apply(`${why}: ${v.reason}`);
      }
      return;
    }
    this.#successes = 0;
  }

  /**
   * Passive health: one live-traffic outcome, already classified by the caller (`error` per the
   * `observe` layer). Counts only while UP and checking: without checks nothing could bring the
   * server back, so observe is part of `health` and needs it.
   */
  observe(error: boolean, reason: string): void {
    if (!this.checking || !this.#up) return;
    if (!error) {
      this.#observedErrors = 0;
      return;
    }
    this.#observedErrors++;
    if (this.#observedErrors >= this.health.errorLimit) {
      const why = `${this.#observedErrors} consecutive errors on live traffic (observe ${this.health.observe}, error-limit): ${reason}`;
      this.#setUp(false);
      this.#apply(why);
    }
  }

  setAdmin(admin: AdminState, reason: string): void {
    if (admin === this.#admin) return;
    if (this.#admin === 'maint') {
      if (this.health.enabled) {
        this.#setUp(false);
        this.#successes = this.health.rise - 1;
      } else {
        this.#setUp(true);
      }
    }
    this.#admin = admin;
    this.#apply(reason);
  }

  snapshot(): StateSnapshot {
    return {
      state: this.#state,
      admin: this.#admin,
      operational: this.#up ? 'UP' : 'DOWN',
      nolb: this.#nolb,
      successes: this.#successes,
      failures: this.#failures,
      observedErrors: this.#observedErrors,
      lastReason: this.#lastReason,
    };
  }

  #setUp(up: boolean): void {
    this.#up = up;
    this.#successes = 0;
    this.#failures = 0;
    this.#observedErrors = 0;
    this.#unproven = false;
    if (!up) this.#nolb = false;
  }

  #effective(): ServerState {
    if (this.#admin === 'maint') return 'MAINT';
    if (!this.#up) return 'DOWN';
    if (this.#admin === 'drain' || this.#nolb) return 'DRAIN';
    return 'UP';
  }

  #apply(reason: string): void {
    const to = this.#effective();
    const from = this.#state;
    if (to === from) return;
    this.#state = to;
    this.#lastReason = reason;
    this.onChange({ from, to, reason });
  }
}
