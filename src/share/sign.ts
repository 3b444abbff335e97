import { createHmac, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../core/index.js';

/** The fingerprint used as `kid` when a policy names no key_id: it identifies, never reveals, the key. */
export function keyFingerprint(key: Buffer): string {
  return sha256Hex(Buffer.concat([Buffer.from('sluice-kid/1\n'), key])).slice(0, 16);
}

/** `Sluice-Signature: t=<unix seconds>,kid=<key id>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>` */
export function signatureHeader(key: Buffer, kid: string, unixSeconds: number, body: Buffer): string {
  const mac = createHmac('sha256', key).update(`${unixSeconds}.`).update(body).digest('hex');
  return `t=${unixSeconds},kid=${kid},v1=${mac}`;
}

/** What a vendor does with the header (see docs/vendor-api.md); used by the test receiver too. */
export function verifySignature(
  header: string | undefined,
  body: Buffer,
  keyFor: (kid: string) => Buffer | undefined,
  nowSeconds: number,
  toleranceSeconds = 300,
): { ok: true; kid: string; t: number } | { ok: false; reason: string } {
  if (!header) return { ok: false, reason: 'no Sluice-Signature header' };
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  const kid = parts.kid;
  const v1 = parts.v1;
  if (!Number.isInteger(t) || !kid || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed Sluice-Signature header' };
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { ok: false, reason: 'signature timestamp outside tolerance' };
  const key = keyFor(kid);
  if (!key) return { ok: false, reason: `unknown key id ${kid}` };
  const expected = createHmac('sha256', key).update(`${t}.`).update(body).digest();
  if (!timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return { ok: false, reason: 'signature does not match' };
  return { ok: true, kid, t };
}
