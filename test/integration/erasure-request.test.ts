import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'test-vendor-key-0123456789';
const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;

const running: GatewayChild[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
  for (const r of receivers.splice(0)) await r.close();
});

interface LedgerJson {
  kind: string;
  summary_id: string | null;
  detail: Record<string, unknown>;
}

async function scene() {
  const summaries = await startVendorReceiver({ key: SECRET });
  const deletions = await startVendorReceiver({ key: SECRET });
  receivers.push(summaries, deletions);
  const dataDir = tmpDir();
  const policiesDir = tmpDir('sluice-pol-');
  const env = {
    SLUICE_POLICIES_DIR: policiesDir,
    SLUICE_TIMEZONE: TZ,
    ACME_TEST_SECRET: SECRET,
    SLUICE_SHARE_REQUEST_TIMEOUT: '1000ms',
    SLUICE_SHARE_BACKOFF_INITIAL: '50ms',
    SLUICE_SHARE_BACKOFF_MAX: '200ms',
    SLUICE_SHARE_POLL_INTERVAL: '100ms',
  };
  writeFileSync(
    join(policiesDir, 'acme.yaml'),
    [
      'version: 1',
      'vendor: Acme Heating',
      `endpoint: ${summaries.url}`,
      `deletion_endpoint: ${deletions.url}`,
      'purpose: Tune my heating schedule',
      'expires: 2099-12-31',
      'schedule: "0 3 * * *"',
      'secret_env: ACME_TEST_SECRET',
      'share:',
      '  - devices: { kind: thermostat }',
      '    metrics: [temperature]',
      '    window: 1d',
      '    stats: [mean]',
      '    min_samples: 2',
      '',
    ].join('\n'),
  );
  const gw = await startGateway({ dataDir, env });
  running.push(gw);
  const run = (args: string[]) => cli(args, { dataDir, env });
  const json = <T>(args: string[]): T => {
    const r = run([...args, '--json']);
    if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const added = json<{ password: string }>(['devices', 'add', 'living', '--profile', 'thermostat']);
  const client = await connectClient(gw.port, { username: 'living', password: added.password, clientId: `living-${Date.now()}` });
  for (const [i, v] of [19, 20, 21, 22].entries()) {
    await client.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: v, ts: day(1).plus({ hours: 8 + i }).toMillis() }), { qos: 1 });
  }
  await client.endAsync();
  expect(run(['policy', 'approve', 'acme', '--yes']).status).toBe(0);
  expect(run(['policy', 'run', 'acme', '--window', win(1)]).status).toBe(0);
  await summaries.waitFor((r) => r.deliveries().length === 1);
  const summary = JSON.parse(summaries.deliveries()[0]!.body.toString('utf8')) as { household: string; version: string; window: { start: string; end: string } };
  return { summaries, deletions, run, json, summary };
}

describe('erasure requests', () => {
  it('a revoke sends one signed request naming the household id, version and window the vendor received; a 503 is retried, then acknowledged', async () => {
    const s = await scene();
    s.deletions.script([{ status: 503 }]);
    expect(s.run(['policy', 'revoke', 'acme', '--yes']).status).toBe(0);
    await s.deletions.waitFor((r) => r.deliveries().length === 1, 10_000);

    const reqs = s.deletions.requests;
    expect(reqs.length).toBe(2);
    expect(reqs.map((r) => r.answered)).toEqual([503, 200]);
    expect(reqs.every((r) => r.signature.ok)).toBe(true);
    expect(reqs[0]!.body.equals(reqs[1]!.body)).toBe(true);
    const doc = JSON.parse(reqs[1]!.body.toString('utf8')) as Record<string, unknown>;
    expect(doc).toMatchObject({
      format: 'sluice.erasure/v1',
      vendor: 'Acme Heating',
      policy: 'acme',
      household: s.summary.household,
      versions: [s.summary.version],
      windows: [s.summary.window],
    });
    expect(reqs[1]!.key).toBe(doc.id);
    expect(s.summaries.requests.length).toBe(1);

    const ledger = s.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind.startsWith('erasure.'));
    expect(ledger.map((r) => r.kind)).toEqual(['erasure.requested', 'erasure.attempted', 'erasure.retrying', 'erasure.attempted', 'erasure.acknowledged']);
    expect(ledger[2]!.detail.status).toBe(503);
    expect(ledger[4]!.detail.status).toBe(200);
    expect(ledger.every((r) => r.summary_id === doc.id)).toBe(true);
    expect(s.run(['ledger', 'verify']).status).toBe(0);
  });

  it('policy erase-request asks on demand, with the same household id', async () => {
    const s = await scene();
    const r = s.json<{ id: string; household: string; windows: { start: string; end: string }[] }>(['policy', 'erase-request', 'acme']);
    expect(r.household).toBe(s.summary.household);
    expect(r.windows).toEqual([s.summary.window]);
    await s.deletions.waitFor((v) => v.deliveries().length === 1, 10_000);
    expect(s.deletions.deliveries()[0]!.key).toBe(r.id);
    expect(s.deletions.deliveries()[0]!.signature.ok).toBe(true);
  });

  it('a request that failed for good is resent with --resend: the same id and bytes, on the ledger', async () => {
    const s = await scene();
    // Nothing to resend before any request.
    expect(s.run(['policy', 'erase-request', 'acme', '--resend']).stderr).toContain('SLUICE_ERR_ERASURE_NOT_RESENDABLE');
    // 400 is not retried (a timeout under load would be, so every answer until it fails is a 400).
    s.deletions.script(Array.from({ length: 20 }, () => ({ status: 400 })));
    const first = s.json<{ id: string }>(['policy', 'erase-request', 'acme']);
    const kinds = () => s.json<LedgerJson[]>(['ledger', 'show']).filter((r) => r.kind.startsWith('erasure.'));
    for (let i = 0; i < 100 && !kinds().some((r) => r.kind === 'erasure.failed'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(kinds().map((r) => r.kind)).toContain('erasure.failed');
    const failedBody = s.deletions.requests.at(-1)!.body;

    s.deletions.script([]);
    const again = s.json<{ id: string; state: string }>(['policy', 'erase-request', 'acme', '--resend']);
    expect(again).toMatchObject({ id: first.id, state: 'queued' });
    await s.deletions.waitFor((v) => v.deliveries().length === 1, 20_000);
    const delivered = s.deletions.deliveries()[0]!;
    expect(delivered.key).toBe(first.id);
    expect(delivered.body.equals(failedBody)).toBe(true);
    expect(delivered.signature.ok).toBe(true);
    const rows = kinds();
    const at = (k: string) => rows.findIndex((r) => r.kind === k);
    expect(at('erasure.failed')).toBeLessThan(at('erasure.resent'));
    expect(at('erasure.resent')).toBeLessThan(at('erasure.acknowledged'));
    expect(rows[at('erasure.resent')]).toMatchObject({ summary_id: first.id, detail: { last_status: 400 } });
    // Acknowledged: nothing left to resend.
    expect(s.run(['policy', 'erase-request', 'acme', '--resend']).stderr).toContain('acknowledged');
    expect(s.run(['ledger', 'verify']).status).toBe(0);
  }, 120_000);
});
