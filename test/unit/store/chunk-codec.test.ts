import { describe, expect, it } from 'vitest';
import { appendChunk, chunkCount, chunkKindFor, chunkKindOf, chunkPartCount, decodeChunk, encodeChunk, encodeValue, type ChunkSamples } from '../../../src/store/index.js';
import { Random } from '../../../src/simulate/index.js';

const T0 = Date.UTC(2026, 0, 15, 12); // ms

function roundTrip(samples: ChunkSamples): ChunkSamples {
  const bytes = encodeChunk(samples);
  expect(chunkCount(bytes)).toBe(samples.ts.length);
  const back = decodeChunk(bytes);
  expect(back).toEqual(samples);
  return back;
}

/** Irregular timestamps: steady stretches, jitter, gaps of hours, bursts 1 ms apart, out-of-order steps. */
function irregularTimestamps(random: Random, n: number): number[] {
  const ts: number[] = [];
  let t = T0 + Math.floor(random.between(-1e12, 1e12));
  for (let i = 0; i < n; i++) {
    ts.push(t);
    const r = random.next();
    if (r < 0.5) t += 10_000;
    else if (r < 0.8) t += 10_000 + Math.round(random.noise(400));
    else if (r < 0.9) t += 1;
    else if (r < 0.95) t += Math.floor(random.between(0, 86_400_000 * 30));
    else t -= Math.floor(random.between(0, 50_000));
  }
  return ts;
}

describe('chunk codec', () => {
  const seed = 20260115;

  it(`round-trips random scaled-integer series exactly, incl. negative values, resets and huge jumps (seed ${seed})`, () => {
    const random = new Random(seed);
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(random.between(1, 400));
      const ts = irregularTimestamps(random, n);
      const values: number[] = [];
      let v = Math.round(random.between(-1e6, 1e6));
      for (let i = 0; i < n; i++) {
        values.push(v);
        const r = random.next();
        if (r < 0.4) v += Math.round(random.noise(5));
        else if (r < 0.7) v += Math.round(random.noise(300));
        else if (r < 0.8) v = 0; // counter reset
        else if (r < 0.9) v += Math.round(random.noise(2 ** 40));
        else if (r < 0.95) v = random.chance(0.5) ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
        else v = -v;
        if (!Number.isSafeInteger(v)) v = 0;
        v += 0; // integers have no -0 (Math.round(-0.3) makes one); an int chunk reads it as 0
      }
      roundTrip({ kind: 'int', ts, values });
    }
  });

  it(`round-trips random floats bit-exactly, incl. -0, infinities, subnormals and repeats (seed ${seed})`, () => {
    const random = new Random(seed + 1);
    const specials = [0, -0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, 1e-310, 0.1, 1 / 3];
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(random.between(1, 300));
      const ts = irregularTimestamps(random, n);
      const values: number[] = [];
      let v = random.between(-100, 100);
      for (let i = 0; i < n; i++) {
        values.push(v);
        const r = random.next();
        if (r < 0.3) continue; // unchanged value: a single bit
        if (r < 0.6) v += random.noise(0.5);
        else if (r < 0.8) v = Math.round(random.between(-1e4, 1e4)) / 10;
        else if (r < 0.9) v = specials[Math.floor(random.between(0, specials.length))]!;
        else v = random.between(-1, 1) * 10 ** Math.floor(random.between(-300, 300));
      }
      const back = roundTrip({ kind: 'float', ts, values });
      expect(back.values.every((x, i) => Object.is(x, values[i]))).toBe(true);
    }
  });

  it('round-trips enum states through a dictionary, incl. unicode and empty text', () => {
    const random = new Random(seed + 2);
    const states = ['heat', 'cool', 'off', '', 'ß-mode ☃', 'auto'];
    const ts = irregularTimestamps(random, 500);
    const values = ts.map(() => states[Math.floor(random.between(0, states.length))]!);
    roundTrip({ kind: 'enum', ts, values });
  });

  it('round-trips empty and one-sample chunks and timestamps at the edges of the range', () => {
    roundTrip({ kind: 'int', ts: [], values: [] });
    roundTrip({ kind: 'float', ts: [], values: [] });
    roundTrip({ kind: 'enum', ts: [], values: [] });
    roundTrip({ kind: 'int', ts: [T0], values: [-5] });
    roundTrip({ kind: 'int', ts: [-(2 ** 50), 2 ** 50, -(2 ** 50), 0], values: [1, 2, 3, 4] });
    expect(decodeChunk(encodeChunk({ kind: 'int', ts: [T0], values: [-0] })).values).toEqual([0]);
  });

  it('refuses what it cannot store exactly', () => {
    expect(() => encodeChunk({ kind: 'int', ts: [T0], values: [1.5] })).toThrow(RangeError);
    expect(() => encodeChunk({ kind: 'int', ts: [T0 + 0.5], values: [1] })).toThrow(RangeError);
    expect(() => encodeChunk({ kind: 'int', ts: [2 ** 51], values: [1] })).toThrow(RangeError);
    expect(() => encodeChunk({ kind: 'int', ts: [T0, T0 + 1], values: [1] })).toThrow(RangeError);
    expect(() => decodeChunk(new Uint8Array([9, 0, 0]))).toThrow(/format/);
    const cut = encodeChunk({ kind: 'int', ts: [T0, T0 + 10_000], values: [1, 2] });
    expect(() => decodeChunk(cut.subarray(0, 5))).toThrow(/ends/);
  });

  it('picks the kind that matches the stored value of each series type', () => {
    expect(chunkKindFor('number', 0.01)).toBe('int');
    expect(chunkKindFor('number', null)).toBe('float');
    expect(chunkKindFor('boolean', null)).toBe('int');
    expect(chunkKindFor('enum', null)).toBe('enum');
  });

  describe('size of a realistic series', () => {
    // A thermostat every 10 s, stamped by the gateway on receipt (±50 ms of network and timer
    // jitter around the device's period), temperature at 0.01 °C drifting with the day.
    function thermostat(random: Random, n: number): { ts: number[]; values: number[] } {
      const ts: number[] = [];
      const values: number[] = [];
      let temp = 20.5;
      for (let i = 0; i < n; i++) {
        ts.push(T0 + i * 10_000 + Math.round(random.noise(50)));
        temp += random.noise(0.02) + 0.5 * Math.sin((2 * Math.PI * i) / 8640) * 0.002;
        values.push(encodeValue('number', 0.01, temp) as number);
      }
      return { ts, values };
    }

    for (const [label, n] of [
      ['an hour', 360],
      ['a day', 8640],
    ] as const) {
      it(`stays within 4 B per reading for ${label} of 10 s temperature, chunk header included`, () => {
        const random = new Random(seed + 3);
        const series = thermostat(random, n);
        const bytes = encodeChunk({ kind: 'int', ...series });
        const perReading = bytes.length / n;
        console.log(`chunk codec: ${label} (${n} readings) of 10 s temperature at 0.01 °C → ${bytes.length} B, ${perReading.toFixed(2)} B/reading`);
        expect(decodeChunk(bytes)).toEqual({ kind: 'int', ...series });
        expect(perReading).toBeLessThanOrEqual(4);
      });
    }

    it('stores an unscaled REAL series (a power reading in W with one decimal) within 8 B per reading', () => {
      const random = new Random(seed + 4);
      const ts: number[] = [];
      const values: number[] = [];
      for (let i = 0; i < 360; i++) {
        ts.push(T0 + i * 10_000 + Math.round(random.noise(50)));
        values.push(random.chance(0.6) ? (values[i - 1] ?? 40) : Math.round(random.between(30, 2000) * 10) / 10);
      }
      const bytes = encodeChunk({ kind: 'float', ts, values });
      console.log(`chunk codec: an hour of unscaled power (REAL, XOR) → ${bytes.length} B, ${(bytes.length / 360).toFixed(2)} B/reading`);
      expect(bytes.length / 360).toBeLessThanOrEqual(8);
    });
  });
});

describe('chunks in parts (a seal appending to an hour already sealed)', () => {
  it('appended parts read back as one chunk, count included, whatever the first part format', () => {
    const a: ChunkSamples = { kind: 'int', ts: [T0, T0 + 10_000, T0 + 20_013], values: [2050, 2051, 2049] };
    const b: ChunkSamples = { kind: 'int', ts: [T0 + 30_000, T0 + 40_000], values: [2049, -7] };
    const c: ChunkSamples = { kind: 'float', ts: [T0 + 50_000], values: [20.125] };
    const two = appendChunk(encodeChunk(a), encodeChunk(b));
    expect(chunkPartCount(two)).toBe(2);
    expect(chunkCount(two)).toBe(5);
    expect(decodeChunk(two)).toEqual({ kind: 'int', ts: [...a.ts, ...b.ts], values: [...a.values, ...b.values] });
    const three = appendChunk(two, encodeChunk(c));
    expect(chunkPartCount(three)).toBe(3);
    expect(chunkCount(three)).toBe(6);
    // An integral part and a float part of one REAL series read back as numbers.
    expect(decodeChunk(three)).toEqual({ kind: 'float', ts: [...a.ts, ...b.ts, ...c.ts], values: [...a.values, ...b.values, ...c.values] });
    expect(chunkKindOf(three)).toBe('int');
  });

  it('refuses a part that runs past the end, and parts that mix text and numbers', () => {
    const two = appendChunk(encodeChunk({ kind: 'int', ts: [T0], values: [1] }), encodeChunk({ kind: 'int', ts: [T0 + 1], values: [2] }));
    expect(() => decodeChunk(two.subarray(0, two.length - 2))).toThrow(RangeError);
    const mixed = appendChunk(encodeChunk({ kind: 'int', ts: [T0], values: [1] }), encodeChunk({ kind: 'enum', ts: [T0 + 1], values: ['on'] }));
    expect(() => decodeChunk(mixed)).toThrow(/mix/);
  });
});
