import { expect } from 'vitest';

/** The DER header every Ed25519 SPKI key starts with (the algorithm's OID): the same for every key anyone makes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The strings of an intent copy that could identify it: id, reply reference, key material and signature (base64 and hex). */
export function intentIdentifiers(doc: Record<string, unknown>): string[] {
  const key = Buffer.from(String(doc.public_key), 'base64');
  // The fixed algorithm header is not the key: compare what follows it.
  expect(key.subarray(0, 12).equals(ED25519_SPKI_PREFIX)).toBe(true);
  const material = key.subarray(12);
  return [String(doc.id), String(doc.reply), String(doc.signature), material.toString('base64'), material.toString('hex'), Buffer.from(String(doc.signature), 'base64').toString('hex')];
}

/** Every run of ≥ `min` hex/base64 characters found in a string of `a` and in a string of `b`. */
export function commonRuns(a: readonly string[], b: readonly string[], min = 16): string[] {
  const found: string[] = [];
  for (const s of a) {
    for (const run of s.match(/[A-Za-z0-9+/=_-]+/g) ?? []) {
      for (let i = 0; i + min <= run.length; i++) {
        const piece = run.slice(i, i + min);
        if (b.some((t) => t.includes(piece))) found.push(piece);
      }
    }
  }
  return found;
}
