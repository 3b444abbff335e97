import { describe, expect, it } from 'vitest';
import { chainedSignature, previousHeader, verifyPrevious } from '../../../src/share/index.js';

const KEY = Buffer.from('vendor-shared-key');

describe('Sluice-Previous (the vendor follows its own chain)', () => {
  it('the vendor detects a missing summary and a forged link', () => {
    const first = { id: 'a'.repeat(32), bodySha256: '1'.repeat(64) };
    const second = { id: 'b'.repeat(32), bodySha256: '2'.repeat(64) };
    const body = Buffer.from('{"format":"sluice-summary/2"}');
    const link = previousHeader(second);
    expect(previousHeader(null)).toBe('none');
    expect(link).toBe(`id=${'b'.repeat(32)},sha256=${'2'.repeat(64)}`);
    const v2 = chainedSignature(KEY, 1000, link, body);
    expect(verifyPrevious(KEY, 1000, link, body, v2, second)).toEqual({ ok: true });
    // The vendor last received `first`: the one in between is missing.
    expect(verifyPrevious(KEY, 1000, link, body, v2, first)).toMatchObject({ ok: false, reason: expect.stringContaining('missing') });
    // A link swapped in transit no longer matches the signature.
    expect(verifyPrevious(KEY, 1000, previousHeader(first), body, v2, first)).toMatchObject({ ok: false, reason: expect.stringContaining('does not match') });
  });
});
