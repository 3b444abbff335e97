import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { verifySignature } from '../../src/share/index.js';

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
  waitFor(pred: (r: VendorReceiver) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A vendor's HTTP endpoint on 127.0.0.1: verifies the Sluice-Signature with the shared key,
 * counts Idempotency-Keys and answers as scripted (errors, Retry-After, hanging, killing).
 */
export async function startVendorReceiver(options: { key: string; port?: number; tls?: { key: string; cert: string } }): Promise<VendorReceiver> {
  const requests: ReceivedRequest[] = [];
  let actions: VendorAction[] = [];
  const sockets = new Set<Socket>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const sig = verifySignature(req.headers['sluice-signature'] as string | undefined, body, () => Buffer.from(options.key, 'utf8'), Math.floor(Date.now() / 1000));
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
