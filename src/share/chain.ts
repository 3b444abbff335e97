import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the link to the previous summary this vendor received. */
export const PREVIOUS_HEADER = 'sluice-previous';

/** The last summary delivered to a vendor: its id and the sha256 of its exact body bytes. */
export interface PreviousSummary {
  id: string;
  bodySha256: string;
}

/**
 * The `Sluice-Previous` value: `none` for the first summary a vendor gets, else
 * `id=<previous id>,sha256=<sha256 of the previous body>`. It is outside the body so the body
 * stays a pure function of (approved policy, window, readings) — [PRIV-14] a preview equals the bytes
 * sent — while the link depends on what was delivered before. [PRIV-13] both parts are made
 * only of what this vendor already holds (its own ids, keyed per vendor, and the hash of its
 * own bytes), so it links nothing across vendors or households.
 */
export function previousHeader(previous: PreviousSummary | null): string {
  return previous ? `id=${previous.id},sha256=${previous.bodySha256}` : 'none';
}

/** `v2=` of Sluice-Signature: HMAC-SHA256(key, "<t>.<Sluice-Previous>.<body>"), so the link is signed with the body. */
export function chainedSignature(key: Buffer, unixSeconds: number, previous: string, body: Buffer): string {
  return createHmac('sha256', key).update(`${unixSeconds}.${previous}.`).update(body).digest('hex');
}

/** Header carrying the SHA-256 of the household's IEEE 7012 agreement with this vendor (when terms are required). */
export const AGREEMENT_HEADER = 'sluice-agreement';

/**
 * `v3=` of Sluice-Signature, sent with `Sluice-Agreement`: HMAC-SHA256(key, "<t>.<Sluice-Previous>.<Sluice-Agreement>.<body>").
 * [PRIV-14] the agreement is stamped outside the body, so a preview made before the vendor accepted
 * the household's terms is still the bytes sent; v3 binds the stamp to those bytes.
 */
export function agreementSignature(key: Buffer, unixSeconds: number, previous: string, agreement: string, body: Buffer): string {
  return createHmac('sha256', key).update(`${unixSeconds}.${previous}.${agreement}.`).update(body).digest('hex');
}

/** What a vendor does: check v2 and that the link names the summary it received last (null for none yet). */
export function verifyPrevious(
  key: Buffer,
  unixSeconds: number,
  previous: string,
  body: Buffer,
  v2: string,
  lastReceived: PreviousSummary | null,
): { ok: true } | { ok: false; reason: string } {
  if (!/^[0-9a-f]{64}$/.test(v2)) return { ok: false, reason: 'malformed v2 signature' };
  const expected = Buffer.from(chainedSignature(key, unixSeconds, previous, body), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(v2, 'hex'))) return { ok: false, reason: 'signature over Sluice-Previous and body does not match' };
  if (previous !== previousHeader(lastReceived)) return { ok: false, reason: 'a summary is missing: Sluice-Previous does not name the last one received' };
  return { ok: true };
}
