import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign, verify } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from '../core/index.js';

export const INTENT_FORMAT = 'sluice.intent/v1';
export const OFFER_FORMAT = 'sluice.offer/v1';
export const ACCEPTANCE_FORMAT = 'sluice.acceptance/v1';

/** The IEEE 7012 (MyTerms) term an intent is made under; the consent module names the roster. */
export const INTENT_TERMS = Object.freeze({ id: 'PDC-INTENT', roster: 'IEEE 7012-2025' });

/** What the household asks for: nothing about devices, serial numbers or other brands. */
export interface IntentRequest {
  what: string;
  product?: string | undefined;
  quantity: number;
  /** YYYY-MM-DD in the household's timezone. */
  needBy: string;
  budget?: { max: number; currency: string } | undefined;
}

export interface IntentWhere {
  country: string;
  /** At most 3 characters of the postal code; never an address. */
  postalPrefix?: string | undefined;
}

/** `sluice.intent/v1` as sent; `signature` covers the canonical JSON of every other field. */
export interface IntentDocument {
  format: typeof INTENT_FORMAT;
  id: string;
  reply: string;
  what: { category: string; product?: string };
  quantity: number;
  where: { country: string; postal_prefix?: string };
  need_by: string;
  budget?: { max: number; currency: string };
  terms: { id: string; roster: string };
  offers_until: string;
  public_key: string;
  signature: string;
}

/** A fresh identity for one vendor's copy of one intent: its own key pair, id and reply reference, so neither intents nor copies can be linked. */
export interface IntentIdentity {
  id: string;
  reply: string;
  publicKey: string;
  /** PKCS#8 DER, base64; kept only until the intent closes. */
  privateKey: string;
}

export function freshIdentity(): IntentIdentity {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    id: randomUUID(),
    reply: randomBytes(18).toString('base64url'),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
  };
}

/** Ed25519 over the canonical JSON of a document without its `signature`. */
export function signDocument<T extends Record<string, unknown>>(doc: T, privateKeyB64: string): T & { signature: string } {
  const key = createPrivateKey({ key: Buffer.from(privateKeyB64, 'base64'), format: 'der', type: 'pkcs8' });
  const { signature: _drop, ...rest } = doc as T & { signature?: string };
  const signature = sign(null, Buffer.from(canonicalJson(rest)), key).toString('base64');
  return { ...(rest as T), signature };
}

/** Checks a document's Ed25519 signature against a base64 SPKI public key; false for anything malformed. */
export function verifyDocument(doc: unknown, publicKeyB64: string): boolean {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return false;
  const { signature, ...rest } = doc as Record<string, unknown>;
  if (typeof signature !== 'string') return false;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return verify(null, Buffer.from(canonicalJson(rest)), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

const HOUR = 3_600_000;

/**
 * The deadline for offers, rounded up to the whole hour: the same instant goes to every chosen
 * vendor, so it must not be as precise (and as linking) as the moment of approval.
 */
export function offersDeadline(approvedAt: number, offersFor: number): number {
  return Math.ceil((approvedAt + offersFor) / HOUR) * HOUR;
}

/** What every vendor's copy of an intent says alike: the request, never an id, a key or a signature. */
export function intentContent(request: IntentRequest, where: IntentWhere, offersUntil: number): Omit<IntentDocument, 'id' | 'reply' | 'public_key' | 'signature'> {
  return {
    format: INTENT_FORMAT,
    what: { category: request.what, ...(request.product ? { product: request.product } : {}) },
    quantity: request.quantity,
    // [PRIV-INTENT-1] a country and at most a 3-character postal prefix: never an address.
    where: { country: where.country, ...(where.postalPrefix ? { postal_prefix: where.postalPrefix.slice(0, 3) } : {}) },
    need_by: request.needBy,
    ...(request.budget ? { budget: { max: request.budget.max, currency: request.budget.currency } } : {}),
    terms: { ...INTENT_TERMS },
    offers_until: new Date(offersUntil).toISOString(),
  };
}

/** Builds and signs one vendor's copy of an intent with that copy's own identity. */
export function intentDocument(identity: IntentIdentity, request: IntentRequest, where: IntentWhere, offersUntil: number): IntentDocument {
  const doc = { ...intentContent(request, where, offersUntil), id: identity.id, reply: identity.reply, public_key: identity.publicKey };
  return signDocument(doc, identity.privateKey) as IntentDocument;
}

/** `sluice.offer/v1` as a vendor signs it. */
export const offerSchema = z
  .object({
    format: z.literal(OFFER_FORMAT),
    offer_id: z.string().min(1).max(100),
    reply: z.string().min(1).max(100),
    price: z.object({ amount: z.number().nonnegative(), currency: z.string().regex(/^[A-Z]{3}$/) }),
    delivery_by: z.string().min(1).max(40),
    valid_until: z.string().datetime({ offset: true }),
    terms_accepted: z.boolean(),
    note: z.string().max(500).optional(),
    signature: z.string().min(1),
  })
  .loose();

export type OfferDocument = z.output<typeof offerSchema>;

export type OfferCheck = { ok: true; offer: OfferDocument } | { ok: false; reason: string };

/** An offer is taken only when it is well-formed, answers this reply reference and carries the vendor's signature. */
export function checkOffer(doc: unknown, reply: string, vendorPublicKey: string): OfferCheck {
  const parsed = offerSchema.safeParse(doc);
  if (!parsed.success) return { ok: false, reason: `not a ${OFFER_FORMAT} document: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  if (parsed.data.reply !== reply) return { ok: false, reason: 'the offer answers another reply reference' };
  if (!verifyDocument(doc, vendorPublicKey)) return { ok: false, reason: "the offer's signature does not match the vendor's key" };
  return { ok: true, offer: parsed.data };
}

/** `sluice.acceptance/v1`: signed with the intent's key, carrying only the fields the household approved. */
export function acceptanceDocument(identity: Pick<IntentIdentity, 'reply' | 'privateKey'>, offerId: string, disclose: Record<string, string>): Record<string, unknown> {
  return signDocument({ format: ACCEPTANCE_FORMAT, reply: identity.reply, offer_id: offerId, disclosed: { ...disclose } }, identity.privateKey);
}
