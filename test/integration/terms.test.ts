import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { canonicalJson } from '../../src/core/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, connectClient, startGateway, type CliResult, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { startVendorReceiver, type TermsAnswer, type VendorReceiver } from '../helpers/vendor-receiver.js';

const TZ = 'Europe/Berlin';
const SECRET = 'test-vendor-key-terms-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const day = (n: number) => DateTime.now().setZone(TZ).startOf('day').minus({ days: n });
const win = (n: number) => `${day(n).toISODate()}/${day(n - 1).toISODate()}`;

function policyText(vendor: string, endpoint: string): string {
  return [
    'version: 1',
    `vendor: ${vendor}`,
    `endpoint: ${endpoint}`,
    'purpose: Tune my heating schedule',
    'expires: 2099-12-31',
    'schedule: "0 3 * * *"',
    'secret_env: TERMS_TEST_SECRET',
    'share:',
    '  - devices: { kind: thermostat }',
    '    metrics: [temperature]',
    '    window: 1d',
    '    stats: [mean, max]',
    '    round: 0.5',
    '    min_samples: 2',
    '',
  ].join('\n');
}

interface TermsRow {
  vendor: string;
  state: string;
  state_text: string;
  in_force: boolean;
  agreed_term: string | null;
  agreement_sha256: string | null;
  counter: { term: string } | null;
}

const running: GatewayChild[] = [];
const receivers: VendorReceiver[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
  for (const r of receivers.splice(0)) await r.close();
});

describe("the household's own terms (IEEE 7012)", () => {
  it('sends nothing to a vendor that declines, sends with the agreement hash to one that accepts, and waits for the household on a counter-offer', async () => {
    const vendors: Record<string, { name: string; answer: TermsAnswer; r?: VendorReceiver }> = {
      accepter: { name: 'Accept Co', answer: 'accept' },
      decliner: { name: 'Decline Co', answer: 'decline' },
      counter: { name: 'Counter Co', answer: { counter: 'SD-BASE-A', reason: 'we tune from analytics' } },
    };
    const dataDir = tmpDir();
    const policiesDir = tmpDir('sluice-pol-');
    for (const [file, v] of Object.entries(vendors)) {
      v.r = await startVendorReceiver({ key: SECRET, terms: v.answer });
      receivers.push(v.r);
      writeFileSync(join(policiesDir, `${file}.yaml`), policyText(v.name, v.r.url));
    }
    const env = {
      SLUICE_POLICIES_DIR: policiesDir,
      SLUICE_TIMEZONE: TZ,
      TERMS_TEST_SECRET: SECRET,
      SLUICE_SHARE_REQUIRE_TERMS: 'true',
      SLUICE_SHARE_REQUEST_TIMEOUT: '2000ms',
      SLUICE_SHARE_BACKOFF_INITIAL: '50ms',
      SLUICE_SHARE_BACKOFF_MAX: '200ms',
      SLUICE_SHARE_POLL_INTERVAL: '100ms',
    };
    const run = (args: string[]): CliResult => cli(args, { dataDir, env });
    const json = <T>(args: string[]): T => {
      const r = run([...args, '--json']);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    };
    /** Polls between CLI calls, so the receivers in this process can answer. */
    const until = async (what: string, pred: () => boolean, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
        await sleep(150);
      }
    };
    const terms = () => new Map(json<TermsRow[]>(['terms', 'list']).map((t) => [t.vendor, t]));

    const gw = await startGateway({ dataDir, env });
    running.push(gw);
    const added = run(['devices', 'add', 'living', '--profile', 'thermostat', '--json']);
    expect(added.status).toBe(0);
    const client = await connectClient(gw.port, { username: 'living', password: (JSON.parse(added.stdout) as { password: string }).password, clientId: 'living-terms' });
    for (const [i, t] of [19, 20, 21, 22].entries()) {
      await client.publishAsync('sluice/living/telemetry', JSON.stringify({ temperature: t, setpoint_heat: 21, humidity: 40, ts: day(1).plus({ hours: 8 + i }).toMillis() }), { qos: 1 });
    }
    await client.endAsync();

    // [TERMS-1] before approval nothing is proffered: the proffer itself would tell a vendor the household exists.
    await sleep(300);
    for (const v of Object.values(vendors)) expect(v.r!.termsRequests).toHaveLength(0);

    for (const file of Object.keys(vendors)) expect(run(['policy', 'approve', file, '--yes']).status).toBe(0);
    await until('every vendor answered', () => {
      const t = terms();
      return t.get('Accept Co')?.state === 'accepted' && t.get('Decline Co')?.state === 'declined' && t.get('Counter Co')?.state === 'countered';
    });

    // What each vendor received: one proffer of SD-BASE-DP, signed by the household's key for that vendor, and HMAC-signed like a summary.
    const proffers = Object.values(vendors).map((v) => v.r!.termsRequests[0]!);
    for (const p of proffers) {
      expect(p.signature.ok).toBe(true);
      expect(p.signedByHousehold).toBe(true);
      expect(p.doc).toMatchObject({ format: 'sluice.terms/v1', type: 'proffer', term: { id: 'SD-BASE-DP', roster: 'IEEE 7012-2025' } });
    }
    // [PRIV-13] per-vendor household key and pseudonym: nothing in one proffer appears in another.
    expect(new Set(proffers.map((p) => p.doc.public_key)).size).toBe(3);
    expect(new Set(proffers.map((p) => p.doc.household)).size).toBe(3);

    const list = json<Array<{ name: string; state_text: string }>>(['policy', 'list']);
    const text = new Map(list.map((p) => [p.name, p.state_text]));
    expect(text.get('decliner')).toBe('waiting: terms not accepted by Decline Co');
    expect(text.get('counter')).toBe('waiting: terms not accepted by Counter Co');
    expect(text.get('accepter')).not.toContain('waiting');

    // Accepted: the summary flows and carries the agreement's hash.
    const accepted = terms().get('Accept Co')!;
    expect(accepted).toMatchObject({ in_force: true, agreed_term: 'SD-BASE-DP' });
    const shown = json<{ agreement: Record<string, unknown>; agreement_sha256: string }>(['terms', 'show', 'Accept Co']);
    expect(sha256(canonicalJson(shown.agreement))).toBe(accepted.agreement_sha256);
    expect(shown.agreement.household_signed).toEqual(vendors.accepter!.r!.termsRequests[0]!.doc);
    const preview = run(['policy', 'preview', 'accepter', '--window', win(1)]);
    expect(preview.status).toBe(0);
    expect(json<{ created: boolean }>(['policy', 'run', 'accepter', '--window', win(1)]).created).toBe(true);
    const a = vendors.accepter!.r!;
    await a.waitFor((v) => v.deliveries().length === 1);
    const sentA = a.deliveries()[0]!.body.toString('utf8');
    expect(sentA).toBe(preview.stdout);
    expect(JSON.parse(sentA)).toMatchObject({ vendor: 'Accept Co' });
    // [PRIV-14] the agreement is stamped outside the body, in a header signed with it (v3).
    expect(a.deliveries()[0]!.headers['sluice-agreement']).toBe(accepted.agreement_sha256);
    expect(String(a.deliveries()[0]!.headers['sluice-signature'])).toMatch(/,v3=[0-9a-f]{64}/);

    // Declined: nothing is produced or sent.
    const refused = run(['policy', 'run', 'decliner', '--window', win(1)]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('SLUICE_ERR_TERMS_NOT_ACCEPTED');
    expect(refused.stderr).toContain('Decline Co declined SD-BASE-DP');

    // Counter-offer: nothing until a member accepts it; then the household's signed acceptance goes out and, once confirmed, summaries flow.
    const c = vendors.counter!.r!;
    expect(terms().get('Counter Co')).toMatchObject({ in_force: false, counter: { term: 'SD-BASE-A' } });
    expect(run(['policy', 'run', 'counter', '--window', win(1)]).status).toBe(1);
    expect(run(['terms', 'accept', 'Accept Co']).stderr).toContain('SLUICE_ERR_TERMS_STATE');
    expect(run(['terms', 'accept', 'Counter Co']).status).toBe(0);
    await until('the counter-offer agreed', () => terms().get('Counter Co')?.state === 'accepted');
    // At least once: the acceptance may be sent again after a timeout (the CLI call held this process), always the same bytes.
    expect([...new Set(c.termsRequests.map((r) => r.doc.type))]).toEqual(['proffer', 'acceptance']);
    expect(new Set(c.termsRequests.filter((r) => r.doc.type === 'acceptance').map((r) => r.body.toString())).size).toBe(1);
    const acceptance = c.termsRequests.find((r) => r.doc.type === 'acceptance')!;
    expect(acceptance.signedByHousehold).toBe(true);
    expect(acceptance.doc).toMatchObject({ term: { id: 'SD-BASE-A' }, public_key: c.termsRequests[0]!.doc.public_key });
    const countered = terms().get('Counter Co')!;
    expect(countered.agreed_term).toBe('SD-BASE-A');
    expect(json<{ created: boolean }>(['policy', 'run', 'counter', '--window', win(1)]).created).toBe(true);
    await c.waitFor((v) => v.deliveries().length === 1);
    const sentC = { agreement: c.deliveries()[0]!.headers['sluice-agreement'] };
    expect(sentC.agreement).toBe(countered.agreement_sha256);
    expect(sentC.agreement).not.toBe(accepted.agreement_sha256);

    await sleep(300);
    expect(vendors.decliner!.r!.requests).toHaveLength(0);

    // The consent records carry the agreement, in both renderings.
    const records = json<Array<{ id: string; policy: string }>>(['consent', 'list']);
    const record = records.find((r) => r.policy === 'accepter')!;
    const r27560 = json<{ agreement_sha256: string; history: Array<{ event: string }> }>(['consent', 'show', record.id]);
    expect(r27560.agreement_sha256).toBe(accepted.agreement_sha256);
    expect(r27560.history.map((h) => h.event)).toEqual(['given', 'terms-agreed']);
    expect(json<Record<string, unknown>>(['consent', 'show', record.id, '--format', 'kantara'])['x-sluice-agreement-sha256']).toBe(accepted.agreement_sha256);
    expect(json<{ agreement_sha256: string | null }>(['consent', 'show', records.find((r) => r.policy === 'decliner')!.id]).agreement_sha256).toBeNull();

    // The ledger: proffer, answer, the household's choice, the agreements.
    const ledger = json<Array<{ kind: string; vendor: string | null; detail: Record<string, unknown> }>>(['ledger', 'show']);
    // terms.retrying rows come and go with timing (a CLI call holds this process and its receivers), so they are left out.
    const rows = (vendor: string) => ledger.filter((r) => r.vendor === vendor && r.kind.startsWith('terms.') && r.kind !== 'terms.retrying').map((r) => r.kind);
    expect(rows('Accept Co')).toEqual(['terms.proffered', 'terms.answered', 'terms.agreed']);
    expect(rows('Decline Co')).toEqual(['terms.proffered', 'terms.answered']);
    expect(ledger.filter((r) => r.vendor === 'Decline Co' && r.kind.startsWith('disclosure.'))).toEqual([]);
    expect(rows('Counter Co')).toEqual(['terms.proffered', 'terms.answered', 'terms.chosen', 'terms.answered', 'terms.agreed']);
    const proffered = ledger.find((r) => r.vendor === 'Accept Co' && r.kind === 'terms.proffered')!;
    expect(proffered.detail.body_sha256).toBe(sha256(a.termsRequests[0]!.body));
    expect(ledger.find((r) => r.vendor === 'Accept Co' && r.kind === 'terms.agreed')!.detail.agreement_sha256).toBe(accepted.agreement_sha256);
    expect(json<{ ok: boolean }>(['ledger', 'verify']).ok).toBe(true);
  }, 420_000);
});
