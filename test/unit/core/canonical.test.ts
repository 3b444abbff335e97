import { createHash } from 'node:crypto';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { canonicalJson, sha256Hex, type TimeWindow } from '../../../src/core/index.js';
import * as ledger from '../../../src/ledger/index.js';
import type { TimeWindow as PolicyWindow } from '../../../src/policy/index.js';
import type { TimeWindow as ScheduleWindow } from '../../../src/schedule/index.js';
import { keyFingerprint } from '../../../src/share/index.js';

describe('core canonical JSON and hashing', () => {
  it('sorts keys, drops undefined, keeps array order', () => {
    expect(canonicalJson({ b: [2, 1, undefined], a: { d: 1, c: null }, e: undefined })).toBe('{"a":{"c":null,"d":1},"b":[2,1,null]}');
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
  });

  it('hashes text and bytes as lower-case hex sha256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(Buffer.from('abc'))).toBe(sha256Hex('abc'));
  });

  it('is the one implementation the ledger re-exports and the key fingerprint uses', () => {
    expect(ledger.canonicalJson).toBe(canonicalJson);
    expect(ledger.sha256Hex).toBe(sha256Hex);
    const key = Buffer.from('a vendor secret');
    expect(keyFingerprint(key)).toBe(createHash('sha256').update('sluice-kid/1\n').update(key).digest('hex').slice(0, 16));
  });

  it('has one window type for policies and schedules', () => {
    expectTypeOf<PolicyWindow>().toEqualTypeOf<TimeWindow>();
    expectTypeOf<ScheduleWindow>().toEqualTypeOf<TimeWindow>();
  });
});
