/**
 * What a pool has seen recently, to size itself (issue 3 "demand sizing" and "burst policy"):
 * moving averages of connection setup time and exchange duration, and the peak number of
 * leased connections since the last purge.
 */
export class DemandTracker {
  /** EWMA of TCP + TLS setup, ms; null until the first connection. */
  setupMs: number | null = null;
  /** EWMA of lease → release, ms; null until the first exchange. */
  exchangeMs: number | null = null;
  /** Most connections leased at once since the last purge tick. */
  peakBusy = 0;

  // α = 0.2: follows a change of network conditions within ~10 samples, ignores one outlier.
  static readonly ALPHA = 0.2;

  recordSetup(ms: number): void {
    this.setupMs = this.setupMs === null ? ms : this.setupMs + DemandTracker.ALPHA * (ms - this.setupMs);
  }

  recordExchange(ms: number): void {
    this.exchangeMs = this.exchangeMs === null ? ms : this.exchangeMs + DemandTracker.ALPHA * (ms - this.exchangeMs);
  }

  noteBusy(busy: number): void {
    if (busy > this.peakBusy) this.peakBusy = busy;
  }

  /** Starts a new purge period whose peak begins at the current load. */
  resetPeak(busy: number): void {
    this.peakBusy = busy;
  }
}
