/** What a `SerialPass` runs, and where a pass that threw is told. */
export interface SerialPassDeps {
  /** One pass of the service's work; it may ask for a later pass with `wakeIn`. */
  run: () => Promise<void>;
  /** A pass that threw (it must not throw itself); the next kick runs a pass as usual. */
  onError: (err: unknown) => void;
}

/**
 * One pass at a time for a service that is woken by events and timers: a kick while a pass
 * runs asks for exactly one more pass after it (kicks coalesce), and stop aborts the pass's
 * requests and waits for it to end. Stopped until `start()`, so a kick before it or after
 * `stop()` runs nothing.
 */
export class SerialPass {
  private running: Promise<void> | undefined;
  private again = false;
  private halted = true;
  private wake: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly deps: SerialPassDeps) {}

  /** True before `start()` and from `stop()` on: a pass checks it to end early. */
  get stopped(): boolean {
    return this.halted;
  }

  /** Lets kicks run passes. */
  start(): void {
    this.halted = false;
  }

  /**
   * Runs a pass now, or once more after the running one. Resolves when a pass begun after this
   * call has finished (when stopped: once the running pass, if any, has); never rejects.
   */
  kick(): Promise<void> {
    if (this.halted) return this.running ?? Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop();
    return this.running;
  }

  /** Kicks in `ms` (replacing an earlier wake-up); the next pass to begin, or stop, clears it. */
  wakeIn(ms: number): void {
    clearTimeout(this.wake);
    this.wake = this.halted ? undefined : setTimeout(() => void this.kick(), ms);
  }

  /** Resolves when no pass is running, counting the passes kicked meanwhile. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Runs one request of a pass with an AbortController that `stop()` aborts, so stopping does
   * not wait for a vendor that is slow to answer.
   */
  async abortable<T>(request: (controller: AbortController) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      return await request(controller);
    } finally {
      this.inFlight.delete(controller);
    }
  }

  /**
   * Stops at once (no more passes, no wake-up, the running requests aborted) and resolves when
   * the running pass has finished.
   */
  stop(): Promise<void> {
    this.halted = true;
    clearTimeout(this.wake);
    this.wake = undefined;
    for (const c of this.inFlight) c.abort();
    return this.settled();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        clearTimeout(this.wake);
        try {
          await this.deps.run();
        } catch (err) {
          this.deps.onError(err);
        }
      } while (this.again && !this.halted);
    } finally {
      this.running = undefined;
    }
  }
}
