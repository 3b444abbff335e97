#!/usr/bin/env node
// A vendor's receiver for Sluice summaries, in one file with no dependencies: copy it and start
// from here. It verifies `Sluice-Signature` over the raw body, stores each summary once per
// `Idempotency-Key` in an append-only JSONL file, and answers 2xx only once the line is on disk.
// It checks each household's `Sluice-Previous` chain: a summary must name the last one stored.
// See docs/vendor-api.md for the request format and for running this at scale.
//
//   VENDOR_SECRET=… node server.js [--host 127.0.0.1] [--port 8787] [--dir ./received] [--chain report|refuse]
//
// Environment: VENDOR_SECRET (the key agreed with the household, required), VENDOR_KEY_ID (the
// policy's key_id when it sets one; otherwise the key's fingerprint is its id), VENDOR_HOST,
// VENDOR_PORT, VENDOR_DATA_DIR, VENDOR_CHAIN. Flags win over the environment. Needs Node 20 or later.
import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, timingSafeEqual, verify } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const PATH = '/v1/summaries';
const MAX_BODY_BYTES = 1024 * 1024;
const TOLERANCE_SECONDS = 300; // a signature older or newer than this is a replay

/**
 * `kid` of a key when the policy names no key_id (docs/vendor-api.md).
 * @param {Buffer} key
 */
export function keyFingerprint(key) {
  return createHash('sha256').update('sluice-kid/1\n').update(key).digest('hex').slice(0, 16);
}

/**
 * Checks `t=<unix s>,kid=<id>,v1=<hex HMAC-SHA256(key, "<t>.<raw body>")>`.
 * @param {string | undefined} header
 * @param {Buffer} body the raw bytes, before any parsing
 * @param {(kid: string) => Buffer | undefined} keyFor
 * @param {number} nowSeconds
 * @returns {{ ok: true, kid: string, t: number, v2: string | undefined, v3: string | undefined } | { ok: false, reason: string }}
 */
export function verifySignature(header, body, keyFor, nowSeconds) {
  if (!header) return { ok: false, reason: 'no Sluice-Signature header' };
  // A Map, not an object: a header may carry `__proto__=…`.
  const parts = new Map();
  for (const kv of header.split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0) parts.set(kv.slice(0, eq).trim(), kv.slice(eq + 1).trim());
  }
  const t = Number(parts.get('t'));
  const kid = parts.get('kid');
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !kid || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed Sluice-Signature header' };
  if (Math.abs(nowSeconds - t) > TOLERANCE_SECONDS) return { ok: false, reason: 'signature timestamp outside tolerance' };
  const key = keyFor(kid);
  if (!key) return { ok: false, reason: `unknown key id ${kid}` };
  const expected = createHmac('sha256', key).update(`${t}.`).update(body).digest();
  // Constant-time compare: a byte-by-byte compare leaks how much of a forged MAC was right.
  if (!timingSafeEqual(expected, Buffer.from(v1, 'hex'))) return { ok: false, reason: 'signature does not match' };
  return { ok: true, kid, t, v2: parts.get('v2'), v3: parts.get('v3') };
}

/**
 * Checks `v2=<hex HMAC-SHA256(key, "<t>.<Sluice-Previous>.<raw body>")>`: the link to the previous
 * summary is signed with the body, so nobody on the way can rewrite it.
 * @param {Buffer} key
 * @param {number} t
 * @param {string} previous the Sluice-Previous header as received
 * @param {Buffer} body
 * @param {string | undefined} v2
 */
export function verifyChainSignature(key, t, previous, body, v2) {
  if (!v2 || !/^[0-9a-f]{64}$/.test(v2)) return false;
  const expected = createHmac('sha256', key).update(`${t}.${previous}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(v2, 'hex'));
}

/**
 * Checks `v3=<hex HMAC-SHA256(key, "<t>.<Sluice-Previous>.<Sluice-Agreement>.<raw body>")>`: the
 * household's agreement hash is stamped outside the body (so the body equals its preview) and
 * signed with it. Answers the agreement when it is signed, else null.
 * @param {Buffer | undefined} key
 * @param {{ t: number, v3?: string }} sig
 * @param {unknown} previous
 * @param {unknown} agreement the Sluice-Agreement header as received
 * @param {Buffer} body
 * @returns {string | null}
 */
export function signedAgreement(key, sig, previous, agreement, body) {
  if (!key || typeof agreement !== 'string' || !/^[0-9a-f]{64}$/.test(agreement) || !sig.v3 || !/^[0-9a-f]{64}$/.test(sig.v3)) return null;
  const expected = createHmac('sha256', key).update(`${sig.t}.${typeof previous === 'string' ? previous : ''}.${agreement}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(sig.v3, 'hex')) ? agreement : null;
}

/**
 * The `Sluice-Previous` value this receiver expects from a household: `none` before its first
 * summary, then `id=<last id>,sha256=<sha256 of the last body stored>`.
 * @param {{ id: string, sha256: string } | undefined} last
 */
export function expectedPrevious(last) {
  return last ? `id=${last.id},sha256=${last.sha256}` : 'none';
}

/**
 * An append-only JSONL file of received summaries and the set of keys already in it. The set is
 * rebuilt from the file at start, so a key stays known across restarts.
 */
export class SummaryStore {
  /** @param {string} dir */
  constructor(dir) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'summaries.jsonl');
    /** @type {Set<string>} */
    this.keys = new Set();
    /**
     * household id → the last summary stored from it (file order is acceptance order).
     * A Map: a household id comes from the request body.
     * @type {Map<string, { id: string, sha256: string }>}
     */
    this.lastByHousehold = new Map();
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      // A line cut short by a crash mid-write was never acknowledged; Sluice sends it again.
      try {
        const record = JSON.parse(line);
        if (typeof record.key === 'string') this.keys.add(record.key);
        this.remember(record);
      } catch {
        continue;
      }
    }
    this.fd = openSync(this.file, 'a');
  }

  /**
   * Appends the record unless its key is known; durable (fsync) before it returns true.
   * Synchronous, so two deliveries of one key cannot interleave between the check and the write.
   * @param {string} key
   * @param {Record<string, unknown>} record
   */
  add(key, record) {
    if (this.keys.has(key)) return false;
    const line = { key, ...record };
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
    fsyncSync(this.fd);
    this.keys.add(key);
    this.remember(line);
    return true;
  }

  /**
   * The last summary stored from a household, for checking the next one's Sluice-Previous.
   * @param {string} household
   */
  last(household) {
    return this.lastByHousehold.get(household);
  }

  /** @param {Record<string, any>} record */
  remember(record) {
    const household = record.summary?.household;
    if (typeof household === 'string' && typeof record.body_sha256 === 'string') this.lastByHousehold.set(household, { id: record.key, sha256: record.body_sha256 });
  }

  close() {
    closeSync(this.fd);
  }
}

/**
 * The HTTP handler: POST /v1/summaries, GET /healthz, and (with `terms`) POST /.well-known/myterms.json.
 *
 * `chain`: what to do when a summary's Sluice-Previous does not name the last summary stored from
 * its household (a summary is missing, or the link was not signed): `report` stores it and logs
 * `chain break` (the default: the data is still genuine, and refusing would stall the household),
 * `refuse` answers 409 and stores nothing — Sluice then records the failure in its ledger.
 * @param {{ store: SummaryStore, keyFor: (kid: string) => Buffer | undefined, offers?: ReturnType<typeof offerSettings>, terms?: ReturnType<typeof termsSettings>, chain?: 'report' | 'refuse', now?: () => number, log?: (line: Record<string, unknown>) => void }} deps
 * @returns {import('node:http').RequestListener}
 */
export function receiver({ store, keyFor, offers, terms, chain = 'report', now = () => Date.now() / 1000, log = (line) => console.log(JSON.stringify(line)) }) {
  const intentRoutes = offers ? offerDesk(offers, now, log) : undefined;
  const termsRoute = terms ? termsDesk(terms, keyFor, now, log) : undefined;
  return (req, res) => {
    if (termsRoute && termsRoute(req, res)) return;
    if (intentRoutes && intentRoutes(req, res)) return;
    /** @param {number} status @param {Record<string, unknown>} body */
    const answer = (status, body) => reply(res, status, body);
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'GET' && url.pathname === '/healthz') return answer(200, { ok: true });
    if (url.pathname !== PATH) return answer(404, { error: 'not found' });
    if (req.method !== 'POST') return answer(405, { error: 'use POST' });

    readSignedBody(req, res, { keyFor, now, log }, (body, sig) => {
      const key = String(req.headers['idempotency-key'] ?? '');
      let summary;
      try {
        summary = JSON.parse(body.toString('utf8'));
      } catch {
        summary = undefined;
      }
      // A 4xx other than 408/425/429 makes Sluice give up on the summary, so only for requests
      // that can never succeed.
      if (!summary || typeof summary !== 'object' || typeof summary.format !== 'string' || !summary.format.startsWith('sluice-summary/')) {
        return answer(400, { error: 'not a Sluice summary' });
      }
      if (!key || key !== summary.id) return answer(400, { error: 'Idempotency-Key missing or not the summary id' });
      // The agreement the summary is disclosed under (Sluice-Agreement, signed by v3; see termsDesk); compare it with yours.
      const agreement = signedAgreement(keyFor(sig.kid), sig, req.headers['sluice-previous'], req.headers['sluice-agreement'], body);
      const about = { key, vendor: summary.vendor, policy: summary.policy, household: summary.household, window: summary.window, agreement };
      // De-duplicate before the chain check: a retry whose answer was lost carries its first attempt's link.
      if (store.keys.has(key)) {
        log({ msg: 'duplicate summary ignored', ...about });
        return answer(200, { status: 'duplicate', key });
      }

      const link = chainCheck(req.headers['sluice-previous'], store.last(String(summary.household)), keyFor(sig.kid), sig, body);
      if (!link.ok) {
        log({ msg: 'chain break', ...about, reason: link.reason, expected: link.expected, got: link.got, action: chain === 'refuse' ? 'refused' : 'stored' });
        if (chain === 'refuse') return answer(409, { error: `chain break: ${link.reason}`, expected: link.expected });
      }
      const bodySha256 = createHash('sha256').update(body).digest('hex');
      const stored = store.add(key, { received_at: new Date(now() * 1000).toISOString(), kid: sig.kid, body_sha256: bodySha256, chain: link.ok ? 'ok' : 'break', agreement, summary });
      log({ msg: stored ? 'summary stored' : 'duplicate summary ignored', ...about, chain: link.ok ? 'ok' : 'break', ...(stored ? { items: summary.items } : {}) });
      // The same 2xx for a key already stored: delivery is at least once, storage exactly once.
      return answer(200, { status: stored ? 'stored' : 'duplicate', key, chain: link.ok ? 'ok' : 'break' });
    });
  };
}

/**
 * Answers JSON.
 * @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body
 */
function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * Reads a request's body, at most MAX_BODY_BYTES: beyond it, read and drop until the end, then 413.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {(body: Buffer) => void} then
 */
function readBody(req, res, then) {
  /** @type {Buffer[]} */
  const chunks = [];
  let size = 0;
  req.on('data', (/** @type {Buffer} */ chunk) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return reply(res, 413, { error: 'body too large' });
    then(Buffer.concat(chunks));
  });
}

/**
 * Reads a signed request (a summary, a terms proffer): the raw bytes are verified against
 * Sluice-Signature before anything is parsed, so unsigned input is not looked at; a bad
 * signature is logged and answered 401.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
 * @param {{ keyFor: (kid: string) => Buffer | undefined, now: () => number, log: (line: Record<string, unknown>) => void }} o
 * @param {(body: Buffer, sig: { kid: string, t: number, v2: string | undefined, v3: string | undefined }) => void} then
 */
function readSignedBody(req, res, o, then) {
  readBody(req, res, (body) => {
    const header = req.headers['sluice-signature'];
    const sig = verifySignature(Array.isArray(header) ? header[0] : header, body, o.keyFor, o.now());
    if (!sig.ok) {
      o.log({ msg: 'request rejected', status: 401, reason: sig.reason });
      return reply(res, 401, { error: sig.reason });
    }
    then(body, sig);
  });
}

/**
 * Whether a summary continues its household's chain: Sluice-Previous is signed (v2) and names the
 * last summary stored from that household (`none` for the first one).
 * @param {string | string[] | undefined} header
 * @param {{ id: string, sha256: string } | undefined} last
 * @param {Buffer | undefined} key
 * @param {{ t: number, v2?: string }} sig
 * @param {Buffer} body
 * @returns {{ ok: true } | { ok: false, reason: string, expected: string, got: string | null }}
 */
export function chainCheck(header, last, key, sig, body) {
  const expected = expectedPrevious(last);
  const previous = Array.isArray(header) ? header[0] : header;
  if (previous === undefined) return { ok: false, reason: 'no Sluice-Previous header', expected, got: null };
  if (!key || !verifyChainSignature(key, sig.t, previous, body, sig.v2)) return { ok: false, reason: 'Sluice-Previous is not signed (v2 missing or wrong)', expected, got: previous };
  if (previous !== expected) {
    const reason = last ? 'a summary is missing: Sluice-Previous does not name the last summary stored from this household' : 'the first summary stored from this household names a previous one';
    return { ok: false, reason, expected, got: previous };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// Intents and offers (docs/vendor-api.md, "Intents and offers"): the household's gateway POSTs a
// signed `sluice.intent/v1` to /intents, fetches `sluice.offer/v1` documents from
// /offers?reply=REF, and POSTs a `sluice.acceptance/v1` to /acceptances when it accepts one.
// Sluice never lets us connect in: we only answer its requests.

/**
 * Canonical JSON as Sluice signs it: object keys sorted, no whitespace, arrays in order.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Ed25519 over the canonical JSON of a document without its `signature`.
 * @param {Record<string, unknown>} doc
 * @param {string} publicKeyB64 base64 SPKI DER
 */
export function verifyDocument(doc, publicKeyB64) {
  if (!doc || typeof doc !== 'object' || typeof doc.signature !== 'string' || typeof publicKeyB64 !== 'string') return false;
  const { signature, ...rest } = doc;
  try {
    const key = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' && verify(null, Buffer.from(canonicalJson(rest)), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * A document signed as verifyDocument checks it: Ed25519 over its canonical JSON, in `signature`.
 * @template {Record<string, unknown>} T
 * @param {T} doc @param {import('node:crypto').KeyObject} privateKey
 */
export function signDocument(doc, privateKey) {
  return { ...doc, signature: sign(null, Buffer.from(canonicalJson(doc)), privateKey).toString('base64') };
}

/**
 * The vendor's offer settings from the environment: VENDOR_NAME, VENDOR_OFFER_KEY (base64 PKCS#8
 * DER Ed25519; a fresh one per start when unset, its public key logged), VENDOR_PRICE, VENDOR_CURRENCY,
 * VENDOR_DELIVERY_DAYS, VENDOR_ACCEPT_TERMS (default yes).
 * @param {NodeJS.ProcessEnv} env
 */
export function offerSettings(env) {
  const privateKey = env.VENDOR_OFFER_KEY
    ? createPrivateKey({ key: Buffer.from(env.VENDOR_OFFER_KEY, 'base64'), format: 'der', type: 'pkcs8' })
    : generateKeyPairSync('ed25519').privateKey;
  return {
    vendor: env.VENDOR_NAME || 'example-vendor',
    privateKey,
    publicKey: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64'),
    price: Number(env.VENDOR_PRICE || 29.9),
    currency: env.VENDOR_CURRENCY || 'EUR',
    deliveryDays: Number(env.VENDOR_DELIVERY_DAYS || 3),
    acceptTerms: env.VENDOR_ACCEPT_TERMS !== 'no',
  };
}

/**
 * POST /intents, GET /offers, POST /acceptances; answers true when it handled the request.
 * Intents and offers live in memory here: a real vendor stores them.
 * @param {ReturnType<typeof offerSettings>} settings
 * @param {() => number} now seconds
 * @param {(line: Record<string, unknown>) => void} log
 */
export function offerDesk(settings, now, log) {
  /** @type {Map<string, { intent: Record<string, any>, offers: Record<string, unknown>[] }>} */
  const byReply = new Map();
  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {(body: any) => void} then */
  const readJson = (req, res, then) =>
    readBody(req, res, (body) => {
      try {
        then(JSON.parse(body.toString('utf8')));
      } catch {
        reply(res, 400, { error: 'not JSON' });
      }
    });
  /** @param {Record<string, unknown>} doc */
  const signed = (doc) => signDocument(doc, settings.privateKey);

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (req.method === 'POST' && url.pathname === '/intents') {
      readJson(req, res, (intent) => {
        // The intent carries its own fresh public key: the signature proves it was not altered on the way.
        if (intent?.format !== 'sluice.intent/v1' || !verifyDocument(intent, intent.public_key)) {
          log({ msg: 'intent rejected', reason: 'bad format or signature' });
          return reply(res, 400, { error: 'not a signed sluice.intent/v1' });
        }
        if (!byReply.has(intent.reply)) {
          const valid = new Date((now() + 2 * 86_400) * 1000).toISOString();
          const delivery = new Date((now() + settings.deliveryDays * 86_400) * 1000).toISOString().slice(0, 10);
          const offer = signed({
            format: 'sluice.offer/v1',
            offer_id: randomUUID(),
            reply: intent.reply,
            price: { amount: Math.round(settings.price * intent.quantity * 100) / 100, currency: settings.currency },
            delivery_by: delivery,
            valid_until: valid,
            terms_accepted: settings.acceptTerms,
            note: `${settings.vendor}: ${intent.quantity} × ${intent.what?.category}`,
          });
          byReply.set(intent.reply, { intent, offers: [offer] });
        }
        log({ msg: 'intent received', vendor: settings.vendor, what: intent.what, quantity: intent.quantity, where: intent.where, terms: intent.terms, id: intent.id, reply: intent.reply, public_key: intent.public_key, signature: intent.signature });
        return reply(res, 202, { status: 'received' });
      });
      return true;
    }
    if (req.method === 'GET' && url.pathname === '/offers') {
      const entry = byReply.get(url.searchParams.get('reply') ?? '');
      reply(res, 200, { offers: entry ? entry.offers : [] });
      return true;
    }
    if (req.method === 'POST' && url.pathname === '/acceptances') {
      readJson(req, res, (acceptance) => {
        const entry = byReply.get(acceptance?.reply ?? '');
        // Signed with the intent's key: only whoever sent the intent can accept its offers.
        if (!entry || acceptance.format !== 'sluice.acceptance/v1' || !verifyDocument(acceptance, entry.intent.public_key)) {
          log({ msg: 'acceptance rejected' });
          return reply(res, 400, { error: 'unknown reply or bad signature' });
        }
        log({ msg: 'acceptance received', vendor: settings.vendor, offer_id: acceptance.offer_id, disclosed: acceptance.disclosed });
        return reply(res, 200, { status: 'accepted', offer_id: acceptance.offer_id });
      });
      return true;
    }
    return false;
  };
}

// ---------------------------------------------------------------------------------------------
// The household's own terms (docs/vendor-api.md, "The household's terms"): before any summary,
// the gateway POSTs a signed `sluice.terms/v1` proffer of an IEEE 7012 term to
// /.well-known/myterms.json and takes our signed answer from the response: accept, one
// counter-offer, or decline. When the household accepts a counter-offer it POSTs a signed
// acceptance to the same path, and we confirm it. Every summary afterwards carries
// `agreement`: the SHA-256 of the agreement, which we can compute too (agreementSha256).

/**
 * Terms settings from the environment: VENDOR_TERMS (`accept`, the default; `decline`; or
 * `counter:TERM`, e.g. `counter:SD-BASE-A`), VENDOR_TERMS_REASON, VENDOR_TERMS_KEY (base64 PKCS#8
 * DER Ed25519; a fresh one per start when unset — give its public key to the household for
 * its policy's terms.vendor_key).
 * @param {NodeJS.ProcessEnv} env
 */
export function termsSettings(env) {
  const privateKey = env.VENDOR_TERMS_KEY
    ? createPrivateKey({ key: Buffer.from(env.VENDOR_TERMS_KEY, 'base64'), format: 'der', type: 'pkcs8' })
    : generateKeyPairSync('ed25519').privateKey;
  const answer = env.VENDOR_TERMS || 'accept';
  if (answer !== 'accept' && answer !== 'decline' && !/^counter:[A-Z0-9-]+$/.test(answer)) throw new Error(`VENDOR_TERMS must be accept, decline or counter:TERM, got "${answer}"`);
  return {
    privateKey,
    publicKey: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64'),
    answer,
    reason: env.VENDOR_TERMS_REASON || undefined,
    /** Agreements by the household pseudonym they were made with. @type {Map<string, string>} */
    agreements: new Map(),
  };
}

/**
 * The agreement's hash as the household computes it: SHA-256 of the canonical JSON of
 * { format, type: 'agreement', household_signed, vendor_signed }.
 * @param {Record<string, unknown>} householdSigned the proffer (or the acceptance of our counter-offer)
 * @param {Record<string, unknown>} vendorSigned our signed `accept` answer to it
 */
export function agreementSha256(householdSigned, vendorSigned) {
  return createHash('sha256').update(canonicalJson({ format: 'sluice.terms/v1', type: 'agreement', household_signed: householdSigned, vendor_signed: vendorSigned })).digest('hex');
}

/**
 * POST /.well-known/myterms.json; answers true when it handled the request.
 * @param {ReturnType<typeof termsSettings>} settings
 * @param {(kid: string) => Buffer | undefined} keyFor
 * @param {() => number} now seconds
 * @param {(line: Record<string, unknown>) => void} log
 */
export function termsDesk(settings, keyFor, now, log) {
  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://receiver');
    if (url.pathname !== '/.well-known/myterms.json' || req.method !== 'POST') return false;
    readSignedBody(req, res, { keyFor, now, log }, (body) => {
      let doc;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch {
        return reply(res, 400, { error: 'not JSON' });
      }
      // Signed by the household's key for us, which the document names; pin it per household if you like.
      if (doc?.format !== 'sluice.terms/v1' || (doc.type !== 'proffer' && doc.type !== 'acceptance') || !verifyDocument(doc, doc.public_key)) {
        return reply(res, 400, { error: 'not a signed sluice.terms/v1 proffer or acceptance' });
      }
      const counter = settings.answer.startsWith('counter:') ? settings.answer.slice('counter:'.length) : null;
      // An acceptance takes the counter-offer we made: confirm it. A proffer gets our standing answer.
      const decision = doc.type === 'acceptance' ? 'accept' : counter !== null && counter !== doc.term?.id ? 'counter' : settings.answer === 'decline' ? 'decline' : 'accept';
      const unsigned = {
        format: 'sluice.terms/v1',
        type: 'answer',
        in_reply_to: doc.id,
        in_reply_to_sha256: createHash('sha256').update(body).digest('hex'),
        decision,
        term: decision === 'counter' ? { id: counter, roster: doc.term.roster } : doc.term,
        ...(settings.reason && decision !== 'accept' ? { reason: settings.reason } : {}),
        answered_at: new Date(now() * 1000).toISOString(),
        public_key: settings.publicKey,
      };
      const signed = signDocument(unsigned, settings.privateKey);
      if (decision === 'accept') settings.agreements.set(String(doc.household), agreementSha256(doc, signed));
      log({ msg: 'terms answered', to: doc.type, term: doc.term, decision, household: doc.household, agreement: settings.agreements.get(String(doc.household)) ?? null });
      return reply(res, 200, signed);
    });
    return true;
  };
}

function main() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      dir: { type: 'string' },
      chain: { type: 'string' },
    },
  });
  const secret = process.env.VENDOR_SECRET;
  if (!secret) {
    console.error('VENDOR_SECRET is not set: it is the key agreed with the household (its policy\'s secret_env or secret_file).');
    process.exit(2);
  }
  const key = Buffer.from(secret, 'utf8');
  const kid = process.env.VENDOR_KEY_ID || keyFingerprint(key);
  const host = values.host ?? process.env.VENDOR_HOST ?? '127.0.0.1';
  const port = Number(values.port ?? process.env.VENDOR_PORT ?? 8787);
  const dir = resolve(values.dir ?? process.env.VENDOR_DATA_DIR ?? 'received');
  const chain = values.chain ?? process.env.VENDOR_CHAIN ?? 'report';
  if (chain !== 'report' && chain !== 'refuse') {
    console.error(`--chain must be report or refuse; got "${chain}"`);
    process.exit(2);
  }
  const store = new SummaryStore(dir);
  const offers = offerSettings(process.env);
  const terms = termsSettings(process.env);
  const server = createServer(receiver({ store, keyFor: (id) => (id === kid ? key : undefined), offers, terms, chain }));
  server.listen(port, host, () => {
    const address = server.address();
    const bound = address && typeof address === 'object' ? address.port : port;
    console.log(JSON.stringify({ msg: 'vendor receiver listening', host, port: bound, path: PATH, dir, kid, chain, offer_key: offers.publicKey, terms_key: terms.publicKey, vendor: offers.vendor }));
  });
  const stop = () => {
    server.close(() => {
      store.close();
      process.exit(0);
    });
    server.closeAllConnections(); // idle keep-alive sockets would hold close() open
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run when started as a program; importing the file (a test, your own server) only gets the exports.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
