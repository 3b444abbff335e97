import { mkdirSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isoInZone, lastClosedWindow } from '../../src/policy/index.js';
import { noiseBound } from '../../src/privacy/index.js';
import { gatewaySecret } from '../../src/share/index.js';
import { householdPseudonym, summaryId, vendorKey, vendorVersion } from '../../src/summarise/index.js';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { commonRuns } from '../helpers/linking.js';
import { tmpDir } from '../helpers/tmp-dir.js';

/** A public open-data collector on 127.0.0.1, in a child process (the CLI runs synchronously here): one JSON line per body it keeps. */
const COLLECTOR = `
import { createServer } from 'node:http';
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    console.log(JSON.stringify({ msg: 'received', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }));
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{"status":"received"}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function startCollector(): Promise<{ url: string; received: Array<{ headers: IncomingHttpHeaders; body: string }>; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', COLLECTOR], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as { msg: string; port?: number; headers?: IncomingHttpHeaders; body?: string };
      if (parsed.msg === 'listening') resolve(parsed.port!);
      else received.push({ headers: parsed.headers!, body: parsed.body! });
    });
  });
  return { url: `http://127.0.0.1:${port}/v1/open-data`, received, child };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let gw: GatewayChild | undefined;
let collector: ChildProcess | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  if (collector && collector.exitCode === null) {
    const exited = new Promise((r) => collector!.once('exit', r));
    collector.kill('SIGTERM');
    await exited;
  }
  collector = undefined;
});

describe('open data end to end on 127.0.0.1', () => {
  it('an open-data policy sends a noisy whole-home aggregate per 7-day window, each with a fresh random id and nothing keyed to the household', async () => {
    const dir = tmpDir();
    const dataDir = join(dir, 'data');
    const policiesDir = join(dir, 'policies');
    mkdirSync(policiesDir);
    const c = await startCollector();
    collector = c.child;
    const TZ = 'UTC';
    // Two closed Monday-to-Monday windows, named explicitly: nothing depends on when the scheduler wakes.
    const w1 = lastClosedWindow(Date.now(), '7d', TZ);
    const w0 = lastClosedWindow(w1.start, '7d', TZ);
    // The week before w0 is paused (no-share) for both plugs: nothing of it may be released.
    const wPaused = lastClosedWindow(w0.start, '7d', TZ);
    writeFileSync(
      join(policiesDir, 'open-energy.yaml'),
      [
        'version: 1',
        'kind: open-data',
        'vendor: energy-commons',
        `endpoint: ${c.url}`,
        'purpose: Contribute my home\'s weekly energy use to a public dataset',
        'expires: 2099-12-31',
        'schedule: "0 4 * * 1"',
        'share:',
        '  - devices: { kind: smart_plug }',
        '    metrics: [energy]',
        '    window: 7d',
        '    stats: [increase]',
        '    privacy: { epsilon: 0.5, clamp: [0, 2] }',
        '',
      ].join('\n'),
    );
    const configFile = join(dir, 'sluice.yaml');
    writeFileSync(configFile, [`timezone: ${TZ}`, 'ingest:', '  max_past: 30d', ''].join('\n'));
    const env = { SLUICE_POLICIES_DIR: policiesDir };
    gw = await startGateway({ dataDir, args: ['--config', configFile], env });
    const run = (args: string[]) => {
      const r = cli([...args, '--json'], { dataDir, env });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as unknown;
    };

    // Two plugs count energy over both windows (every 3 h, 0.3 kWh a step): the whole home is their pooled increase.
    for (const id of ['plug-1', 'plug-2']) {
      const password = addDevice(dataDir, id, 'smart-plug');
      const plug = await connectClient(gw.port, { clientId: id, username: id, password });
      let energy = 100;
      for (let ts = wPaused.start + 60_000; ts < w1.end; ts += 3 * 3_600_000) {
        energy += 0.3;
        await plug.publishAsync(`sluice/${id}/telemetry`, JSON.stringify({ energy: Math.round(energy * 1000) / 1000, ts }), { qos: 1 });
      }
      await plug.endAsync();
    }

    // A vendor path is never taken: `policy run` refuses, and nothing is released before approval.
    expect(cli(['policy', 'release', 'open-energy'], { dataDir, env }).status).not.toBe(0);
    const approved = cli(['policy', 'approve', 'open-energy', '--yes'], { dataDir, env });
    if (approved.status !== 0) throw new Error(`approve failed: ${approved.stderr}`);
    const refusedRun = cli(['policy', 'run', 'open-energy'], { dataDir, env });
    expect(refusedRun.stderr).toContain('is an open-data policy: release it with sluice policy release open-energy');

    type Release = { releases: Array<{ release_id: string; state: string }>; withheld: unknown[] };
    const windowText = (w: { start: number; end: number }) => `${isoInZone(w.start, TZ)}/${isoInZone(w.end, TZ)}`;
    const first = run(['policy', 'release', 'open-energy', '--window', windowText(w0)]) as Release;
    const second = run(['policy', 'release', 'open-energy', '--window', windowText(w1)]) as Release;
    expect(first.releases.map((r) => r.state)).toEqual(['sent']);
    expect(second.releases.map((r) => r.state)).toEqual(['sent']);
    // A second run of a window sends nothing new: the release was drawn, spent and sent once.
    const again = run(['policy', 'release', 'open-energy', '--window', windowText(w1)]) as Release;
    expect(again.releases).toEqual(second.releases);
    // The collector's lines are read once the event loop turns again.
    await until('two bodies at the collector', () => (c.received.length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(c.received).toHaveLength(2);

    const bodies = c.received.map((r) => JSON.parse(r.body) as Record<string, unknown> & { release_id: string; items: Array<Record<string, unknown>> });
    // [PRIV-OPEN-1] a fresh random id per release, and nothing else stable: no household id, no version, no signature or key id.
    expect(bodies[0]!.release_id).not.toBe(bodies[1]!.release_id);
    for (const b of bodies) {
      expect(b.release_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Object.keys(b).sort()).toEqual(['aggregate', 'format', 'items', 'release_id', 'window']);
      expect(b).toMatchObject({ format: 'sluice.open-data/v1', aggregate: 'energy' });
      expect(b.items).toHaveLength(1);
      expect(b.items[0]).toMatchObject({ stat: 'increase', epsilon: 0.5, mechanism: 'discrete-laplace' });
      expect(Number.isFinite(b.items[0]!.value)).toBe(true);
      // Calibrated by src/privacy: one protected hour moves the sum by at most the clamp (2 kWh = 2000 steps of 0.001), ε 0.5.
      expect(b.items[0]!.accuracy95 as number).toBeCloseTo(noiseBound(2000, 0.5) / 1000, 6);
      expect(JSON.stringify(b)).not.toMatch(/plug-|household|energy-commons/);
    }
    for (const r of c.received) {
      expect(r.headers['sluice-signature']).toBeUndefined();
      expect(r.headers['idempotency-key']).toBeUndefined();
    }
    expect([bodies[0]!.window, bodies[1]!.window]).toEqual([
      { start: new Date(w0.start).toISOString(), end: new Date(w0.end).toISOString() },
      { start: new Date(w1.start).toISOString(), end: new Date(w1.end).toISOString() },
    ]);

    // Nothing in a body equals (or shares a 16-character run with) an id keyed to this household for any vendor.
    // The secret every vendor-keyed id derives from (made on first use, as the gateway would).
    const secret = gatewaySecret(dataDir);
    const ledger = run(['ledger', 'show']) as Array<{ kind: string; policy: string | null; version: string | null; detail: Record<string, unknown> }>;
    const hash = ledger.find((r) => r.kind === 'policy.approved' && r.policy === 'open-energy')!.version!;
    const keyed: string[] = [];
    for (const vendor of ['energy-commons', 'acme-heating', 'open-energy']) {
      const key = vendorKey(secret, vendor);
      keyed.push(key.toString('hex'), householdPseudonym(key), vendorVersion(key, hash), summaryId(key, hash, w0), summaryId(key, hash, w1));
    }
    keyed.push(hash, secret.toString('hex'));
    expect(commonRuns(c.received.map((r) => r.body), keyed)).toEqual([]);
    expect(commonRuns([bodies[0]!.release_id.replaceAll('-', '')], [bodies[1]!.release_id.replaceAll('-', '')], 8)).toEqual([]);

    // The ledger has each release, drawn and spent under the household cap, and each send.
    const released = ledger.filter((r) => r.kind === 'open-data.released');
    expect(released.map((r) => r.detail.household_spent)).toEqual([0.5, 1]);
    expect(ledger.filter((r) => r.kind === 'open-data.sent')).toHaveLength(2);
    expect((run(['ledger', 'verify']) as { ok: boolean }).ok).toBe(true);

    // [PAUSE-2] a no-share pause holds for open data too: the paused week has readings, yet nothing of it is released.
    for (const id of ['plug-1', 'plug-2']) {
      const pause = run(['pause', '--device', id, '--mode', 'no-share', '--for', '2h']) as { id: number };
      const db = new Database(join(dataDir, 'sluice.db'));
      try {
        db.pragma('busy_timeout = 5000');
        // A pause starts now; moved back over the week, as a household that paused then would have.
        db.prepare('UPDATE consent_pauses SET started_at = ?, until = ?, ended_at = NULL WHERE id = ?').run(wPaused.start, wPaused.end, pause.id);
      } finally {
        db.close();
      }
    }
    const paused = run(['policy', 'release', 'open-energy', '--window', windowText(wPaused)]) as Release;
    expect(paused.releases).toEqual([]);
    expect(paused.withheld).toMatchObject([{ reason: 'no-readings' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.received).toHaveLength(2);
  }, 180_000);
});
