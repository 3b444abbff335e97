import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/ledger/index.js';
import type { EffectivePolicy } from '../../../src/policy/index.js';
import { summarise, type Sample } from '../../../src/summarise/index.js';
import { device, policy } from './helpers.js';

const TZ = 'Europe/Berlin';
const H = 3_600_000;
const WINDOW = { start: Date.parse('2026-11-21T23:00:00Z'), end: Date.parse('2026-11-22T23:00:00Z') };
const readings = (): Sample[] => Array.from({ length: 24 }, (_, i) => ({ ts: WINDOW.start + i * H, value: 20 + (i % 5) }));
const SHARE = '  - devices: { kind: thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [mean, max, count]\n';
const HOUSE = [device('living-thermostat', 'thermostat'), device('bedroom-thermostat', 'thermostat')];

function body(p: EffectivePolicy, secret: Buffer, samples: (d: string) => Sample[] = readings): { text: string; doc: Record<string, unknown> } {
  const out = summarise({ policy: p, window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: secret, samples });
  if (out.kind !== 'summary') throw new Error(out.message);
  return { text: out.summary.body.toString('utf8'), doc: out.summary.document as unknown as Record<string, unknown> };
}

/** Every token a vendor could join on: hex strings of 16+ digits anywhere in the body. */
const identifiers = (text: string) => new Set(text.match(/[0-9a-f]{16,}/g) ?? []);
const common = (a: Set<string>, b: Set<string>) => [...a].filter((x) => b.has(x));

describe('colluding vendors (pure level)', () => {
  it('two vendors receiving the same statistics from one household share no id or hash', () => {
    const secret = Buffer.alloc(32, 3);
    const acme = body(policy(SHARE, { vendor: 'Acme', name: 'heat', devices: HOUSE }), secret);
    const volt = body(policy(SHARE, { vendor: 'Volt', name: 'heat', devices: HOUSE }), secret);
    expect(acme.doc.items).toEqual(volt.doc.items); // same statistics …
    expect(identifiers(acme.text).size).toBe(3); // id, version, household
    expect(common(identifiers(acme.text), identifiers(volt.text))).toEqual([]); // … nothing to join them on
    expect(acme.text).not.toMatch(/ledger|previous|head/);
  });

  it('two households with identical device names, policies and readings give one vendor no common identifier', () => {
    const p = policy(SHARE, { vendor: 'Acme', name: 'heat', devices: HOUSE });
    const one = body(p, Buffer.alloc(32, 1));
    const two = body(p, Buffer.alloc(32, 2));
    expect(one.doc.items).toEqual(two.doc.items);
    expect(common(identifiers(one.text), identifiers(two.text))).toEqual([]);
  });

  it('the version reveals no device id: a dictionary attack with the policy text over candidate names fails', () => {
    const p = policy(SHARE, { vendor: 'Acme', name: 'heat', devices: [device('living-thermostat', 'thermostat')] });
    const { doc } = body(p, Buffer.alloc(32, 9));
    const candidates = ['thermostat', 'living-thermostat', 'kitchen-thermostat', 'hall', 'living', 'thermostat-1', 'bedroom-thermostat'];
    // The vendor holds the policy text and the profiles, so it can rebuild the effective hash for each guess …
    const guesses = candidates.map((id) => policy(SHARE, { vendor: 'Acme', name: 'heat', devices: [device(id, 'thermostat')] }).hash);
    expect(guesses[candidates.indexOf('living-thermostat')]).toBe(p.hash); // (the unkeyed hash would have given it away)
    // … but no function of a guess it can compute matches what it received.
    const tries = guesses.flatMap((g) => [g, g.slice(0, 32), createHash('sha256').update(g).digest('hex'), createHmac('sha256', 'acme').update(g).digest('hex')]);
    for (const value of [doc.version, doc.id, doc.household]) expect(tries).not.toContain(value);
    expect(JSON.stringify(doc)).not.toContain('living');
  });

  it('one reading in a window sends nothing, even when the policy asks for min_samples 1 and no rounding', () => {
    const p = policy('  - devices: { id: living-thermostat }\n    metrics: [temperature]\n    window: 1d\n    stats: [last]\n    min_samples: 1\n', { devices: HOUSE });
    const out = summarise({ policy: p, window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: Buffer.alloc(32), samples: () => [{ ts: WINDOW.start + H, value: 21.37 }] });
    expect(out).toMatchObject({ kind: 'nothing', reason: 'too-few-readings', omitted: [{ samples: 1, minSamples: 3 }] });
    // with three readings it leaves, rounded to the household's 0.5 °C although the policy names no round
    const three = summarise({ policy: p, window: WINDOW, size: '1d', timezone: TZ, gatewaySecret: Buffer.alloc(32), samples: () => [1, 2, 3].map((i) => ({ ts: WINDOW.start + i * H, value: 21.37 })) });
    expect(three.kind === 'summary' && three.summary.document.items[0]!.stats).toEqual({ last: 21.5 });
  });

  it('the body is made only of its inputs: the bytes are equal whatever the ledger or the clock say', () => {
    const p = policy(SHARE, { devices: HOUSE });
    const a = body(p, Buffer.alloc(32, 4));
    const b = body(structuredClone(p), Buffer.alloc(32, 4));
    expect(a.text).toBe(b.text);
    expect(a.text).toBe(canonicalJson(a.doc));
  });
});
