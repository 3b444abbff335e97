import { afterEach, describe, expect, it, vi } from 'vitest';
import { SerialPass } from '../../../src/core/index.js';

/** A pass the test lets finish: `passes` counts the passes begun, `finish()` ends the oldest open one. */
function gatedPass(body: (n: number) => void = () => undefined) {
  const open: Array<() => void> = [];
  const errors: unknown[] = [];
  let passes = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const serial = new SerialPass({
    run: async () => {
      const n = ++passes;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        await new Promise<void>((resolve) => open.push(resolve));
        body(n);
      } finally {
        concurrent--;
      }
    },
    onError: (err) => errors.push(err),
  });
  const finish = async () => {
    open.shift()!();
    await flush();
  };
  return { serial, errors, finish, passes: () => passes, open: () => open.length, maxConcurrent: () => maxConcurrent };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SerialPass', () => {
  it('runs one pass at a time and coalesces the kicks that arrive meanwhile into one more pass', async () => {
    const g = gatedPass();
    g.serial.start();
    const first = g.serial.kick();
    let coalescedDone = false;
    const coalesced = Promise.all([g.serial.kick(), g.serial.kick(), g.serial.kick()]).then(() => (coalescedDone = true));
    expect(g.passes()).toBe(1);
    await g.finish();
    // The three kicks during pass 1 asked for exactly one more pass, begun after them.
    expect(g.passes()).toBe(2);
    expect(coalescedDone).toBe(false);
    await g.finish();
    await Promise.all([first, coalesced]);
    expect(coalescedDone).toBe(true);
    expect(g.passes()).toBe(2);
    expect(g.maxConcurrent()).toBe(1);
    // Idle again: the next kick runs a pass at once.
    void g.serial.kick();
    expect(g.passes()).toBe(3);
    await g.finish();
    await g.serial.settled();
  });

  it('reports a pass that throws, resolves its kick, and runs the next kick as usual', async () => {
    const g = gatedPass((n) => {
      if (n === 1) throw new Error('vendor down');
    });
    g.serial.start();
    const kicked = g.serial.kick();
    await g.finish();
    await expect(kicked).resolves.toBeUndefined();
    expect(g.errors).toEqual([new Error('vendor down')]);
    const next = g.serial.kick();
    expect(g.passes()).toBe(2);
    await g.finish();
    await next;
    expect(g.errors).toHaveLength(1);
  });

  it('a kick that came during a failing pass still gets its pass', async () => {
    const g = gatedPass((n) => {
      if (n === 1) throw new Error('boom');
    });
    g.serial.start();
    void g.serial.kick();
    const later = g.serial.kick();
    await g.finish();
    expect(g.passes()).toBe(2);
    await g.finish();
    await later;
    expect(g.errors).toHaveLength(1);
  });

  it('stop is seen by the running pass at once, waits for it to end, and drops the kick queued meanwhile', async () => {
    let sawStopped: boolean | undefined;
    const g = gatedPass(() => (sawStopped = g.serial.stopped));
    g.serial.start();
    void g.serial.kick();
    void g.serial.kick(); // asks for a second pass, which stop cancels
    let stoppedDone = false;
    const stopping = g.serial.stop().then(() => (stoppedDone = true));
    expect(g.serial.stopped).toBe(true);
    await flush();
    expect(stoppedDone).toBe(false);
    await g.finish();
    await stopping;
    expect(stoppedDone).toBe(true);
    expect(sawStopped).toBe(true);
    expect(g.passes()).toBe(1);
  });

  it('stop aborts the requests of the running pass, and only those still running', async () => {
    const signals: AbortSignal[] = [];
    let release: () => void = () => undefined;
    const serial = new SerialPass({
      run: async () => {
        await serial.abortable(async (c) => void signals.push(c.signal)); // done before stop
        await serial.abortable((c) => {
          signals.push(c.signal);
          // A slow vendor: answers only when aborted (or released by the test).
          return new Promise<void>((resolve) => {
            release = resolve;
            c.signal.addEventListener('abort', () => resolve());
          });
        });
      },
      onError: () => undefined,
    });
    serial.start();
    void serial.kick();
    await flush();
    expect(signals).toHaveLength(2);
    expect(signals.map((s) => s.aborted)).toEqual([false, false]);
    await serial.stop(); // would hang without the abort: nothing releases the second request
    expect(signals.map((s) => s.aborted)).toEqual([false, true]);
    release();
  });

  it('runs nothing before start or after stop', async () => {
    const g = gatedPass();
    expect(g.serial.stopped).toBe(true);
    await g.serial.kick();
    expect(g.passes()).toBe(0);
    g.serial.start();
    void g.serial.kick();
    await g.finish();
    await g.serial.stop();
    await g.serial.kick();
    expect(g.passes()).toBe(1);
    expect(g.open()).toBe(0);
  });

  it('wakeIn kicks later; a pass that begins meanwhile, or stop, clears the wake-up', async () => {
    vi.useFakeTimers();
    let passes = 0;
    const serial = new SerialPass({ run: async () => void passes++, onError: () => undefined });
    serial.start();
    serial.wakeIn(100);
    await vi.advanceTimersByTimeAsync(99);
    expect(passes).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(passes).toBe(1);

    serial.wakeIn(100);
    await serial.kick(); // an event came first: its pass replaces the wake-up
    expect(passes).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(passes).toBe(2);

    serial.wakeIn(100);
    serial.wakeIn(50); // replaces, does not add
    await vi.advanceTimersByTimeAsync(200);
    expect(passes).toBe(3);

    serial.wakeIn(100);
    await serial.stop();
    await vi.advanceTimersByTimeAsync(200);
    expect(vi.getTimerCount()).toBe(0);
    serial.wakeIn(10); // after stop: nothing is scheduled
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(passes).toBe(3);
  });
});
