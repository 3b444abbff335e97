import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { commonRuns, intentIdentifiers } from '../helpers/linking.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Vendor {
  name: string;
  port: number;
  publicKey: string;
  logs: Array<Record<string, unknown>>;
  child: ChildProcess;
}

/** The example vendor receiver as a child process on a free loopback port. */
async function startVendor(name: string, price: number, dir: string): Promise<Vendor> {
  const child = spawn(process.execPath, [join(ROOT, 'examples', 'vendor-receiver', 'server.js'), '--host', '127.0.0.1', '--port', '0', '--dir', join(dir, name)], {
    env: { ...process.env, VENDOR_SECRET: `secret-of-${name}`, VENDOR_NAME: name, VENDOR_PRICE: String(price) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Array<Record<string, unknown>> = [];
  const ready = new Promise<Record<string, unknown>>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      logs.push(parsed);
      if (parsed.msg === 'vendor receiver listening') resolve(parsed);
    });
  });
  const line = await ready;
  return { name, port: line.port as number, publicKey: line.offer_key as string, logs, child };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const children: ChildProcess[] = [];
let gw: GatewayChild | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  for (const c of children.splice(0)) {
    c.kill('SIGTERM');
    await new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(null)));
  }
});

describe('intents end to end on 127.0.0.1', () => {
  it('a low fridge filter drafts an intent; two vendors answer; accepting one tells only that vendor; nothing reaches a device', async () => {
    const dir = tmpDir();
    const dataDir = join(dir, 'data');
    const rulesDir = join(dir, 'intents');
    const policiesDir = join(dir, 'policies');
    mkdirSync(rulesDir);
    mkdirSync(policiesDir);
    const [a, b] = await Promise.all([startVendor('filters-a', 30, dir), startVendor('filters-b', 27.5, dir)]);
    children.push(a.child, b.child);
    writeFileSync(
      join(rulesDir, 'fridge-water-filter.yaml'),
      [
        'version: 1',
        'trigger:',
        '  device: { kind: fridge }',
        '  metric: water_filter_life',
        '  below: 10',
        'request:',
        '  what: household.appliance-parts.water-filter',
        '  quantity: 1',
        '  need_within: 14d',
        '  budget: { max: 45, currency: EUR }',
        '  offers_for: 1h',
        'vendors:',
        ...[a, b].flatMap((v) => [`  - name: ${v.name}`, `    endpoint: http://127.0.0.1:${v.port}`, `    public_key: ${v.publicKey}`]),
        '',
      ].join('\n'),
    );
    const configFile = join(dir, 'sluice.yaml');
    writeFileSync(
      configFile,
      [`intents_dir: ${rulesDir}`, 'intents:', '  poll_interval: 100ms', 'household:', '  country: DE', '  postal_prefix: "104"', '  deliver_to: "Beispielstr. 1, 10405 Berlin"', ''].join('\n'),
    );
    gw = await startGateway({ dataDir, args: ['--config', configFile], env: { SLUICE_POLICIES_DIR: policiesDir } });
    const run = (args: string[]) => {
      const r = cli([...args, '--json'], { dataDir, env: { SLUICE_POLICIES_DIR: policiesDir } });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as unknown;
    };

    const fridgePassword = addDevice(dataDir, 'fridge-1', 'fridge');
    const toolPassword = addDevice(dataDir, 'house-tool', '', ['--role', 'household']);
    const seen: Array<{ topic: string; payload: string }> = [];
    const tool = await connectClient(gw.port, { clientId: 'house-tool', username: 'house-tool', password: toolPassword });
    tool.on('message', (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await tool.subscribeAsync('#', { qos: 1 });

    const fridge = await connectClient(gw.port, { clientId: 'fridge-1', username: 'fridge-1', password: fridgePassword });
    await fridge.publishAsync('sluice/fridge-1/telemetry', JSON.stringify({ cooler: { temperature: 4.1 }, water_filter_life: 5 }), { qos: 1 });

    // A draft appears; nothing has left yet.
    type Row = { id: number; state: string; what: string; vendors: string[]; offers: number };
    const draft = await until('a draft intent', () => (run(['intents', 'list']) as Row[]).find((r) => r.state === 'draft'));
    expect(draft).toMatchObject({ what: 'household.appliance-parts.water-filter', vendors: ['filters-a', 'filters-b'] });
    expect([...a.logs, ...b.logs].some((l) => l.msg === 'intent received')).toBe(false);

    const approved = run(['intents', 'approve', String(draft.id)]) as { state: string; document: Record<string, unknown> };
    expect(approved.state).toBe('open');
    // [PRIV-INTENT-1] the intent names no device, no serial, no address: a country and a 3-character prefix.
    const doc = approved.document;
    expect(doc).toMatchObject({ format: 'sluice.intent/v1', where: { country: 'DE', postal_prefix: '104' }, terms: { id: 'PDC-INTENT', roster: 'IEEE 7012-2025' }, quantity: 1 });
    expect(JSON.stringify(doc)).not.toMatch(/fridge-1|Beispielstr|10405|water_filter_life/);

    // Both vendors verify the signed intent and answer; both offers land in the inbox.
    type Offer = { id: number; vendor: string; price: { amount: number }; terms_accepted: boolean; state: string };
    const offers = await until('two offers', () => {
      const list = run(['offers', 'list']) as Offer[];
      return list.length === 2 ? list : undefined;
    });
    expect(offers.map((o) => [o.vendor, o.price.amount]).sort()).toEqual([
      ['filters-a', 30],
      ['filters-b', 27.5],
    ]);
    const copies: Array<Record<string, unknown>> = [];
    for (const v of [a, b]) {
      // The CLI runs synchronously: the vendors' log lines are read once the event loop turns again.
      const received = await until(`${v.name} to log the intent`, () => v.logs.find((l) => l.msg === 'intent received'));
      expect(received).toMatchObject({ where: { country: 'DE', postal_prefix: '104' }, terms: { id: 'PDC-INTENT' } });
      copies.push(received);
    }
    // [PRIV-INTENT-4] the two vendors, comparing what they received, find no common id, reply, key or signature.
    expect(commonRuns(intentIdentifiers(copies[0]!), intentIdentifiers(copies[1]!))).toEqual([]);

    const chosen = offers.find((o) => o.vendor === 'filters-b')!;
    // The delivery address leaves only under an approved policy to filters-b that names it: without one, a draft is written and nothing is sent.
    const refused = cli(['offers', 'accept', String(chosen.id), '--json'], { dataDir, env: { SLUICE_POLICIES_DIR: policiesDir } });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('SLUICE_ERR_OFFER_NOT_COVERED');
    const draftFile = join(policiesDir, 'filters-b-delivery.yaml');
    expect(readFileSync(draftFile, 'utf8')).toContain(`vendor: filters-b\nendpoint: http://127.0.0.1:${b.port}\n`);
    expect(readFileSync(draftFile, 'utf8')).toContain('disclose_on_acceptance: [deliver_to]');
    expect((run(['offers', 'show', String(chosen.id)]) as { state: string }).state).toBe('received');
    const approval = cli(['policy', 'approve', 'filters-b-delivery', '--yes'], { dataDir, env: { SLUICE_POLICIES_DIR: policiesDir } });
    if (approval.status !== 0) throw new Error(`policy approve failed: ${approval.stderr}`);
    const records = run(['consent', 'list', '--policy', 'filters-b-delivery']) as Array<{ id: string; state: string }>;
    expect(records.map((r) => r.state)).toEqual(['dpv:ConsentGiven']);
    expect(run(['offers', 'accept', String(chosen.id)])).toMatchObject({ state: 'accepted' });
    const acceptance = await until('the acceptance at filters-b', () => b.logs.find((l) => l.msg === 'acceptance received'));
    expect(acceptance.disclosed).toEqual({ deliver_to: 'Beispielstr. 1, 10405 Berlin' });
    await until('the intent to close', () => ((run(['intents', 'show', String(draft.id)]) as { state: string }).state === 'closed' ? true : undefined));
    await sleep(200);
    expect(a.logs.some((l) => l.msg === 'acceptance received')).toBe(false);

    // The ledger has each act: draft, approval, where it went, each offer, the choice, the disclosure, closure.
    const ledger = run(['ledger', 'show']) as Array<{ kind: string; vendor: string | null; policy: string | null; detail: Record<string, unknown> }>;
    // The acceptance is linked to the policy version and the consent record it was made under.
    const acceptedRow = ledger.find((r) => r.kind === 'offer.accepted')!;
    expect(acceptedRow.policy).toBe('filters-b-delivery');
    expect(acceptedRow.detail.consent_records).toEqual([expect.objectContaining({ record_id: records[0]!.id, subject: 'household' })]);
    const kinds = ledger.map((r) => `${r.kind}${r.vendor ? `:${r.vendor}` : ''}`);
    expect(kinds).toEqual(expect.arrayContaining(['intent.drafted', 'intent.approved', 'intent.sent:filters-a', 'intent.sent:filters-b', 'offer.received:filters-a', 'offer.received:filters-b', 'offer.accepted:filters-b', 'acceptance.sent:filters-b', 'intent.closed']));
    expect(kinds.filter((k) => k.startsWith('acceptance.sent'))).toEqual(['acceptance.sent:filters-b']);
    expect((run(['ledger', 'verify']) as { ok: boolean }).ok).toBe(true);

    // [PRIV-INTENT-2] vendors cannot push to devices: the household's view of the whole broker holds only the fridge's own messages.
    await fridge.publishAsync('sluice/fridge-1/telemetry', JSON.stringify({ water_filter_life: 4 }), { qos: 1 });
    await until('the household tool to see the fridge', () => (seen.filter((m) => m.topic === 'sluice/fridge-1/telemetry').length >= 1 ? true : undefined));
    await sleep(200);
    expect(seen.length).toBeGreaterThan(0);
    for (const m of seen) {
      expect(m.topic.startsWith('sluice/fridge-1/') || m.topic.startsWith('$SYS/')).toBe(true);
      expect(m.payload).not.toMatch(/sluice\.offer|filters-a|filters-b|offer_id/);
    }
    await fridge.endAsync();
    await tool.endAsync();
  }, 150_000);
});
