import { describe, expect, it } from 'vitest';
import { runBrokerFuzz } from '../../bench/fuzz.js';

// A short seeded run; `npm run bench` runs the same fuzz for longer. Reproduce a failure with
// SLUICE_FUZZ_SEED=<printed seed>.
const seed = Number(process.env.SLUICE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('broker fuzz (short)', () => {
  it('survives mutated packets among valid sessions, stores every good reading, stays under the RSS bound', { timeout: 60_000 }, async () => {
    console.log(`broker fuzz seed: ${seed} (SLUICE_FUZZ_SEED=${seed} to repeat)`);
    const result = await runBrokerFuzz({ durationMs: 5000, seed, log: (l) => console.log(l) });
    console.log(JSON.stringify({ ...result, goodFailures: result.goodFailures.slice(0, 3) }));
    expect(result.problems).toEqual([]);
    expect(result.sessions).toBeGreaterThan(20);
    expect(result.persistentSessions).toBeGreaterThan(5);
    expect(result.mutatedPackets).toBeGreaterThan(10);
    expect(result.ok).toBe(true);
  });
});
