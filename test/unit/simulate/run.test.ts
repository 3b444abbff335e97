import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import type { Call } from '../../../src/app/index.js';
import { runSimulation, type SimulateOptions } from '../../../src/simulate/index.js';

const START = Date.parse('2026-11-23T10:00:00Z');
const UNTIL = Date.parse('2026-11-23T11:30:00Z');

/** Runs the simulator against fake MQTT clients at a given real time; returns what it published. */
async function publishedAt(realNow: number, options: Partial<SimulateOptions>): Promise<string[]> {
  const clock = new ManualClock(realNow);
  const published: string[] = [];
  const client = (id: string) =>
    ({
      publishAsync: (topic: string, payload: string) => {
        if (topic.endsWith('/telemetry')) published.push(`${id} ${payload}`);
        return Promise.resolve(undefined);
      },
      endAsync: () => Promise.resolve(),
    }) as unknown as MqttClient;
  await runSimulation(
    {
      clock,
      // A fake of the two operations the simulator calls; the typed Call cannot be met by a literal.
      call: ((op: string) => Promise.resolve(op === 'devices.list' ? [] : { password: 'x' })) as unknown as Call,
      connect: ({ id }) => Promise.resolve(client(id)),
      print: () => undefined,
      // Sleeping moves the fake clock, so a live run finishes at once.
      sleep: (ms) => {
        clock.advance(ms);
        return Promise.resolve();
      },
    },
    { devices: 4, rate: 1, speed: 1, seed: 4242, backfill: 2 * 3_600_000, timezone: 'Europe/Berlin', ...options },
  );
  return published;
}

describe('runSimulation', () => {
  it('with a seed and an explicit end publishes the same readings whenever it runs', async () => {
    const soon = await publishedAt(UNTIL + 60_000, { start: START, until: UNTIL, duration: 0 });
    const later = await publishedAt(UNTIL + 7 * 60_000 + 31_000, { start: START, until: UNTIL, duration: 0 });
    expect(soon).toHaveLength(90 * 4);
    expect(later).toEqual(soon);
    const stamps = soon.map((line) => (JSON.parse(line.slice(line.indexOf(' ') + 1)) as { ts: number }).ts);
    expect(Math.min(...stamps)).toBe(START);
    expect(Math.max(...stamps)).toBe(UNTIL - 60_000);
  });

  it('runs live up to an end in the future, and no further', async () => {
    const published = await publishedAt(START + 30 * 60_000, { start: START, until: UNTIL });
    expect(published).toHaveLength(90 * 4);
  });

  it('without an end stops at the present, so the time of the run changes the readings', async () => {
    const soon = await publishedAt(UNTIL, { start: START, duration: 0 });
    const later = await publishedAt(UNTIL + 60_000, { start: START, duration: 0 });
    expect(later.length).toBeGreaterThan(soon.length);
  });
});
