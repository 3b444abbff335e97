import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/index.js';
import { chainedSignature, keyFingerprint, previousHeader, signatureHeader, type PreviousSummary } from '../../src/share/index.js';
import { ROOT } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const SECRET = 'example-vendor-key-0123456789';
const KEY = Buffer.from(SECRET, 'utf8');
const SERVER = join(ROOT, 'examples', 'vendor-receiver', 'server.js');

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

interface Receiver {
  url: string;
  lines: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startReceiver(dir: string, chain?: 'report' | 'refuse'): Promise<Receiver> {
  const child = spawn(process.execPath, [SERVER, '--host', '127.0.0.1', '--port', '0', '--dir', dir, ...(chain ? ['--chain', chain] : [])], {
    env: { PATH: process.env.PATH ?? '', VENDOR_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const lines: Array<Record<string, unknown>> = [];
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error('receiver did not start')), 15_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.msg === 'vendor receiver listening') {
        clearTimeout(timer);
        res(parsed.port as number);
      }
    });
  });
  const r = {
    url: `http://127.0.0.1:${port}/v1/summaries`,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  stops.push(() => r.stop());
  return r;
}

/** A summary body as a household's gateway would send it (canonical JSON). */
function summaryBody(id: string, household: string, day: number): Buffer {
  return Buffer.from(
    canonicalJson({
      format: 'sluice-summary/2',
      id,
      policy: 'acme',
      version: 'a'.repeat(64),
      vendor: 'Acme Heating',
      purpose: 'Tune my heating schedule',
      window: { start: `2026-03-${day}T00:00:00+01:00`, end: `2026-03-${day + 1}T00:00:00+01:00` },
      household,
      items: [{ rule: 1, metric: 'temperature', unit: '°C', window: '1d', stats: { mean: 20.5 } }],
    }),
    'utf8',
  );
}

/** The receiver prints its log line before it answers, but the pipe may deliver it after the answer. */
async function linesWith(r: Receiver, msg: string, n: number): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = r.lines.filter((l) => l.msg === msg);
    if (found.length >= n || Date.now() > deadline) return found;
    await new Promise((res) => setTimeout(res, 20));
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** POSTs a body signed as the forwarder signs it: v1 over the body, v2 over Sluice-Previous and the body. */
async function post(url: string, id: string, body: Buffer, previous: string, options: { signLink?: string } = {}): Promise<{ status: number; answer: Record<string, unknown> }> {
  const t = Math.floor(Date.now() / 1000);
  const v2 = chainedSignature(KEY, t, options.signLink ?? previous, body);
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': id,
      'sluice-signature': `${signatureHeader(KEY, keyFingerprint(KEY), t, body)},v2=${v2}`,
      'sluice-previous': previous,
    },
    body,
  });
  return { status: res.status, answer: (await res.json()) as Record<string, unknown> };
}

const storedLines = (dir: string) =>
  readFileSync(join(dir, 'summaries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { key: string; chain: string; body_sha256: string });

describe('examples/vendor-receiver checks the Sluice-Previous chain per household', () => {
  it('accepts a chain that starts with none and names each last body, reports a gap and a forged link, and keeps the chain across a restart', async () => {
    const dir = tmpDir('sluice-vrc-');
    const r = await startReceiver(dir);
    const houseA = '1'.repeat(32);
    const houseB = '2'.repeat(32);
    const a1 = summaryBody('a1'.repeat(16), houseA, 1);
    const a2 = summaryBody('a2'.repeat(16), houseA, 2);
    const b1 = summaryBody('b1'.repeat(16), houseB, 1);
    const link = (id: string, body: Buffer): string => previousHeader({ id, bodySha256: sha(body) } satisfies PreviousSummary);

    expect(await post(r.url, 'a1'.repeat(16), a1, 'none')).toEqual({ status: 200, answer: { status: 'stored', key: 'a1'.repeat(16), chain: 'ok' } });
    // Each household has its own chain: B's first summary names none although A already sent one.
    expect((await post(r.url, 'b1'.repeat(16), b1, 'none')).answer.chain).toBe('ok');
    expect((await post(r.url, 'a2'.repeat(16), a2, link('a1'.repeat(16), a1))).answer.chain).toBe('ok');
    // A retry of a2 (its answer lost) carries its first link again: a duplicate, not a break.
    expect((await post(r.url, 'a2'.repeat(16), a2, link('a1'.repeat(16), a1))).answer).toEqual({ status: 'duplicate', key: 'a2'.repeat(16) });

    // a4 names a3, which never arrived: stored (report mode), and logged as a break naming what was expected.
    const a3 = summaryBody('a3'.repeat(16), houseA, 3);
    const a4 = summaryBody('a4'.repeat(16), houseA, 4);
    const gap = await post(r.url, 'a4'.repeat(16), a4, link('a3'.repeat(16), a3));
    expect(gap).toEqual({ status: 200, answer: { status: 'stored', key: 'a4'.repeat(16), chain: 'break' } });
    expect(await linesWith(r, 'chain break', 1)).toHaveLength(1);
    expect((await linesWith(r, 'chain break', 1))[0]).toMatchObject({ household: houseA, expected: link('a2'.repeat(16), a2), got: link('a3'.repeat(16), a3), action: 'stored' });

    // A link rewritten on the way (v2 signed over another value) is a break even though it names the right summary.
    const a5 = summaryBody('a5'.repeat(16), houseA, 5);
    const forged = await post(r.url, 'a5'.repeat(16), a5, link('a4'.repeat(16), a4), { signLink: 'none' });
    expect(forged.answer.chain).toBe('break');
    expect((await linesWith(r, 'chain break', 2))[1]).toMatchObject({ reason: 'Sluice-Previous is not signed (v2 missing or wrong)' });

    expect(storedLines(dir).map((l) => [l.key.slice(0, 2), l.chain])).toEqual([['a1', 'ok'], ['b1', 'ok'], ['a2', 'ok'], ['a4', 'break'], ['a5', 'break']]);
    expect(storedLines(dir)[0]!.body_sha256).toBe(sha(a1));

    // Restarted, the receiver rebuilds each household's last summary from its file.
    await r.stop();
    const again = await startReceiver(dir);
    const a6 = summaryBody('a6'.repeat(16), houseA, 6);
    expect((await post(again.url, 'a6'.repeat(16), a6, link('a5'.repeat(16), a5))).answer.chain).toBe('ok');
    expect((await post(again.url, 'b2'.repeat(16), summaryBody('b2'.repeat(16), houseB, 2), 'none')).answer.chain).toBe('break');
  }, 60_000);

  it('with --chain refuse answers 409 to a break and stores nothing, then accepts the summary that continues the chain', async () => {
    const dir = tmpDir('sluice-vrc-');
    const r = await startReceiver(dir, 'refuse');
    const house = '3'.repeat(32);
    const s1 = summaryBody('c1'.repeat(16), house, 1);
    const s2 = summaryBody('c2'.repeat(16), house, 2);
    expect((await post(r.url, 'c1'.repeat(16), s1, 'none')).status).toBe(200);
    const wrong = await post(r.url, 'c2'.repeat(16), s2, 'none');
    expect(wrong.status).toBe(409);
    expect(wrong.answer).toMatchObject({ expected: previousHeader({ id: 'c1'.repeat(16), bodySha256: sha(s1) }) });
    expect((await linesWith(r, 'chain break', 1)).map((l) => l.action)).toEqual(['refused']);
    expect(storedLines(dir).map((l) => l.key)).toEqual(['c1'.repeat(16)]);
    const right = await post(r.url, 'c2'.repeat(16), s2, previousHeader({ id: 'c1'.repeat(16), bodySha256: sha(s1) }));
    expect(right).toEqual({ status: 200, answer: { status: 'stored', key: 'c2'.repeat(16), chain: 'ok' } });
  }, 60_000);
});
