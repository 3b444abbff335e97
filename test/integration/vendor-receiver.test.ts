import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { keyFingerprint, signatureHeader } from '../../src/share/index.js';
import { cli, connectClient, ROOT, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const TZ = 'Europe/Berlin';
const SECRET = 'example-vendor-key-0123456789';
const SERVER = join(ROOT, 'examples', 'vendor-receiver', 'server.js');

const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;

interface ReceiverChild {
  child: ChildProcess;
  port: number;
  url: string;
  lines: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts examples/vendor-receiver/server.js as a vendor would, on 127.0.0.1 port 0. */
async function startReceiver(dir: string): Promise<ReceiverChild> {
  const child = spawn(process.execPath, [SERVER, '--host', '127.0.0.1', '--port', '0', '--dir', dir], {
    env: { PATH: process.env.PATH ?? '', VENDOR_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const listening = new Promise<Record<string, unknown>>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`receiver did not start: ${stderr}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.msg === 'vendor receiver listening') {
        clearTimeout(timer);
        res(parsed);
      }
    });
  });
  const port = (await listening).port as number;
  const r: ReceiverChild = {
    child,
    port,
    url: `http://127.0.0.1:${port}/v1/summaries`,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  cleanups.push(() => r.stop());
  return r;
}

interface Forwarded {
  key: string;
  body: Buffer;
  signature: string;
  receiverStatus: number;
  receiverAnswer: Record<string, unknown>;
}

/**
 * Sits between the gateway and the receiver and loses the receiver's first answer (drops the
 * gateway's connection after the receiver stored the summary), as a network failure would:
 * the gateway must send the same summary again.
 */
async function lossyProxy(target: string): Promise<{ url: string; forwarded: Forwarded[] }> {
  const forwarded: Forwarded[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'idempotency-key', 'sluice-signature', 'sluice-previous']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      void fetch(target, { method: 'POST', headers, body }).then(async (answer) => {
        const text = await answer.text();
        forwarded.push({
          key: headers['idempotency-key'] ?? '',
          body,
          signature: headers['sluice-signature'] ?? '',
          receiverStatus: answer.status,
          receiverAnswer: JSON.parse(text) as Record<string, unknown>,
        });
        if (forwarded.length === 1) {
          req.socket.destroy();
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(text);
      });
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/summaries`, forwarded };
}

function policyText(endpoint: string): string {
  return [
    'version: 1',
    'vendor: Acme Heating',
    `endpoint: ${endpoint}`,
    'purpose: Tune my heating schedule',
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    'secret_env: ACME_TEST_SECRET',
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean, min, max]',
    '    round: 0.5',
    '    min_samples: 2',
    '',
  ].join('\n');
}

async function until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const storedLines = (dir: string) =>
  readFileSync(join(dir, 'summaries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { key: string; kid: string; chain: string; summary: Record<string, unknown> });

describe('examples/vendor-receiver against the gateway', () => {
  it('stores a summary delivered twice once, answers 2xx both times, rejects a bad signature with 401, and remembers keys across a restart', async () => {
    const receivedDir = tmpDir('sluice-vr-');
    const receiver = await startReceiver(receivedDir);
    const proxy = await lossyProxy(receiver.url);

    const dataDir = tmpDir();
    const policiesDir = tmpDir('sluice-pol-');
    writeFileSync(join(policiesDir, 'acme.yaml'), policyText(proxy.url));
    const env = {
      SLUICE_POLICIES_DIR: policiesDir,
      SLUICE_TIMEZONE: TZ,
      ACME_TEST_SECRET: SECRET,
      SLUICE_SHARE_REQUEST_TIMEOUT: '2000ms',
      SLUICE_SHARE_BACKOFF_INITIAL: '50ms',
      SLUICE_SHARE_BACKOFF_MAX: '200ms',
      SLUICE_SHARE_POLL_INTERVAL: '100ms',
    };
    const gw: GatewayChild = await startGateway({ dataDir, env });
    cleanups.push(() => gw.kill());
    const run = (args: string[]) => cli(args, { dataDir, env });

    const added = run(['devices', 'add', 'living', '--profile', 'thermostat', '--json']);
    expect(added.status).toBe(0);
    const password = (JSON.parse(added.stdout) as { password: string }).password;
    const client = await connectClient(gw.port, { username: 'living', password, clientId: 'living-vr' });
    for (const [i, temperature] of [19, 20, 21, 22].entries()) {
      const ts = day(1).plus({ hours: 8 + i }).toMillis();
      await client.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature, setpoint_heat: 21, ts }), { qos: 1 });
    }
    await client.endAsync();

    expect(run(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
    const started = run(['policy', 'run', 'acme', '--window', win(1), '--json']);
    expect(started.status).toBe(0);
    const summaryId = (JSON.parse(started.stdout) as { summary_id: string }).summary_id;

    // The first answer is lost on the way back, so the gateway delivers the same summary again.
    await until(() => proxy.forwarded.length === 2, 'the second delivery');
    await gw.waitForLog((l) => l.msg === 'summary delivered');
    const [first, second] = proxy.forwarded;
    expect(first!.key).toBe(summaryId);
    expect(second!.key).toBe(summaryId);
    expect(second!.body.equals(first!.body)).toBe(true);
    expect([first!.receiverStatus, first!.receiverAnswer.status]).toEqual([200, 'stored']);
    expect([second!.receiverStatus, second!.receiverAnswer.status]).toEqual([200, 'duplicate']);
    // The household's first summary to this vendor starts the chain: Sluice-Previous none, checked and signed.
    expect(first!.receiverAnswer.chain).toBe('ok');

    // Stored once, exactly the bytes the gateway signed, under the key's fingerprint.
    const stored = storedLines(receivedDir);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.chain).toBe('ok');
    expect(stored[0]!.key).toBe(summaryId);
    expect(stored[0]!.kid).toBe(keyFingerprint(Buffer.from(SECRET, 'utf8')));
    expect(stored[0]!.summary).toEqual(JSON.parse(first!.body.toString('utf8')));
    expect(receiver.lines.filter((l) => l.msg === 'summary stored').map((l) => l.key)).toEqual([summaryId]);
    expect(receiver.lines.filter((l) => l.msg === 'duplicate summary ignored').map((l) => l.key)).toEqual([summaryId]);

    // The household's ledger has the acknowledgement of the (second) delivery.
    const ledger = JSON.parse(run(['ledger', 'show', '--json']).stdout) as Array<{ kind: string; detail: Record<string, unknown> }>;
    expect(ledger.filter((r) => r.kind === 'disclosure.acknowledged').map((r) => r.detail.status)).toEqual([200]);

    // Tampered bytes under the real header, a wrong key, and no header at all: 401, nothing stored.
    const tampered = Buffer.from(first!.body.toString('utf8').replace('"Acme Heating"', '"Acme Heatinh"'));
    const now = Math.floor(Date.now() / 1000);
    const wrongKey = Buffer.from('not-the-key', 'utf8');
    const attempts: Array<[Buffer, Record<string, string>]> = [
      [tampered, { 'sluice-signature': first!.signature }],
      [first!.body, { 'sluice-signature': signatureHeader(wrongKey, keyFingerprint(Buffer.from(SECRET)), now, first!.body) }],
      [first!.body, {}],
    ];
    for (const [body, headers] of attempts) {
      const res = await fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': summaryId, ...headers }, body });
      expect(res.status).toBe(401);
    }
    expect(receiver.lines.filter((l) => l.msg === 'request rejected')).toHaveLength(3);
    expect(storedLines(receivedDir)).toHaveLength(1);

    // A restarted receiver still knows the key (rebuilt from its file): a resend is a duplicate.
    await receiver.stop();
    const again = await startReceiver(receivedDir);
    const key = Buffer.from(SECRET, 'utf8');
    const resend = await fetch(again.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': summaryId,
        'sluice-signature': signatureHeader(key, keyFingerprint(key), Math.floor(Date.now() / 1000), first!.body),
      },
      body: first!.body,
    });
    expect(resend.status).toBe(200);
    expect(((await resend.json()) as { status: string }).status).toBe('duplicate');
    expect(storedLines(receivedDir)).toHaveLength(1);
  });
});
