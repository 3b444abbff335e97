import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { verifySignature } from '../../src/share/index.js';
import { signTerms, verifyTerms, type TermId } from '../../src/terms/index.js';

/** How the receiver answers the household's terms: accept (default), one counter-offer, decline, or an HTTP status without an answer. */
export type TermsAnswer = 'accept' | 'decline' | { counter: TermId; reason?: string } | { status: number };

/** One document the gateway POSTed to the terms endpoint. */
export interface TermsRequest {
  at: number;
  body: Buffer;
  doc: Record<string, unknown>;
  signature: { ok: boolean; reason?: string };
  /** Whether the document's Ed25519 signature matches the household key it names. */
  signedByHousehold: boolean;
  answered: number;
}

/** What the receiver does with one request. */
export type VendorAction =
  | { status: number; headers?: Record<string, string> }
  | { hang: true }
  /** SIGKILL this process (the gateway child) before answering, then drop the connection. */
  | { kill: () => ChildProcess };

export interface ReceivedRequest {
  at: number;
  key: string;
  body: Buffer;
  headers: IncomingMessage['headers'];
  signature: { ok: boolean; reason?: string; kid?: string };
  /** The status answered, or null when the receiver hung or killed the sender. */
  answered: number | null;
}

export interface VendorReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Requests per Idempotency-Key, as a vendor would count them. */
  keyCounts(): Map<string, number>;
  /** Unique deliveries: keys answered with 2xx (the first such request each). */
  deliveries(): ReceivedRequest[];
  /** Actions for the next requests, in order; afterwards every request gets 200. */
  script(actions: VendorAction[]): void;
  /** Proffers and acceptances received at /.well-known/myterms.json (never in `requests`). */
  termsRequests: TermsRequest[];
  /** The vendor's Ed25519 public key (base64 SPKI) its terms answers are signed with. */
  termsPublicKey: string;
  /** How later proffers are answered. */
  answerTerms(answer: TermsAnswer): void;
  waitFor(pred: (r: VendorReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A vendor's HTTP endpoint on 127.0.0.1: verifies the Sluice-Signature with the shared key,
 * counts Idempotency-Keys and answers as scripted (errors, Retry-After, hanging, killing).
 */
export async function startVendorReceiver(options: { key: string; port?: number; tls?: { key: string; cert: string }; terms?: TermsAnswer; /** The vendor's clock (ms) for the signature's time check; a test with an injected gateway clock passes the same one. */ now?: () => number }): Promise<VendorReceiver> {
  const vendorNow = options.now ?? Date.now;
  const requests: ReceivedRequest[] = [];
  const termsRequests: TermsRequest[] = [];
  let termsAnswer: TermsAnswer = options.terms ?? 'accept';
  const termsKeys = generateKeyPairSync('ed25519');
  const termsPublicKey = termsKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  let actions: VendorAction[] = [];
  const sockets = new Set<Socket>();
  /** The vendor's side of sluice.terms/v1 (docs/vendor-api.md): answers the proffer, confirms an acceptance of its counter-offer. */
  const answerTermsRequest = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const sig = verifySignature(req.headers['sluice-signature'] as string | undefined, body, () => Buffer.from(options.key, 'utf8'), Math.floor(vendorNow() / 1000));
    let doc: Record<string, unknown> = {};
    try {
      doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      doc = {};
    }
    const entry: TermsRequest = { at: Date.now(), body, doc, signature: sig.ok ? { ok: true } : { ok: false, reason: sig.reason }, signedByHousehold: verifyTerms(doc, String(doc.public_key ?? '')), answered: 0 };
    termsRequests.push(entry);
    const reply = (status: number, payload: unknown) => {
      entry.answered = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (!sig.ok) return reply(401, { error: sig.reason });
    if (typeof termsAnswer === 'object' && 'status' in termsAnswer) return reply(termsAnswer.status, { error: 'scripted' });
    const term = doc.term as { id: TermId; roster: string };
    const decision = doc.type === 'acceptance' ? 'accept' : termsAnswer === 'accept' ? 'accept' : termsAnswer === 'decline' ? 'decline' : 'counter';
    const answered = signTerms(
      {
        format: 'sluice.terms/v1',
        type: 'answer',
        in_reply_to: String(doc.id),
        in_reply_to_sha256: createHash('sha256').update(body).digest('hex'),
        decision,
        term: decision === 'counter' && typeof termsAnswer === 'object' && 'counter' in termsAnswer ? { id: termsAnswer.counter, roster: term.roster } : term,
        ...(typeof termsAnswer === 'object' && 'reason' in termsAnswer && termsAnswer.reason ? { reason: termsAnswer.reason } : {}),
        answered_at: new Date().toISOString(),
        public_key: termsPublicKey,
      },
      termsKeys.privateKey,
    );
    return reply(200, answered);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && req.url === '/.well-known/myterms.json') return answerTermsRequest(req, res, body);
      const sig = verifySignature(req.headers['sluice-signature'] as string | undefined, body, () => Buffer.from(options.key, 'utf8'), Math.floor(vendorNow() / 1000));
      const entry: ReceivedRequest = {
        at: Date.now(),
        key: String(req.headers['idempotency-key'] ?? ''),
        body,
        headers: req.headers,
        signature: sig.ok ? { ok: true, kid: sig.kid } : { ok: false, reason: sig.reason },
        answered: null,
      };
      requests.push(entry);
      const action = actions.shift() ?? { status: 200 };
      if ('hang' in action) return;
      if ('kill' in action) {
        action.kill().kill('SIGKILL');
        req.socket.destroy();
        return;
      }
      const status = sig.ok ? action.status : 401;
      entry.answered = status;
      res.writeHead(status, { 'content-type': 'application/json', ...action.headers });
      res.end(JSON.stringify({ received: entry.key }));
    });
  };
  const server: Server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const receiver: VendorReceiver = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/v1/summaries`,
    port,
    requests,
    termsRequests,
    termsPublicKey,
    answerTerms(answer) {
      termsAnswer = answer;
    },
    keyCounts() {
      const m = new Map<string, number>();
      for (const r of requests) m.set(r.key, (m.get(r.key) ?? 0) + 1);
      return m;
    },
    deliveries() {
      const seen = new Set<string>();
      return requests.filter((r) => r.answered !== null && r.answered >= 200 && r.answered < 300 && !seen.has(r.key) && (seen.add(r.key), true));
    },
    script(next) {
      actions = [...next];
    },
    async waitFor(pred, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(receiver)) {
        if (Date.now() > deadline) throw new Error(`vendor receiver: condition not met within ${timeoutMs} ms; ${requests.length} requests so far`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
