import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/index.js';
import { acceptanceDocument, checkOffer, evaluateRules, freshIdentity, intentDocument, intentRuleSchema, loadIntentRules, openDataRelease, signDocument, verifyDocument, type DeviceLatest, type IntentRule } from '../../../src/intents/index.js';
import { noiseBound } from '../../../src/privacy/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const KEY = freshIdentity().publicKey;
const ruleYaml = (trigger: string, extra = '') =>
  ['version: 1', 'trigger:', trigger, 'request:', '  what: household.water-filter', 'vendors:', '  - name: shop', '    endpoint: https://shop.example/sluice', `    public_key: ${KEY}`, extra, ''].join('\n');

function rulesFrom(files: Record<string, string>) {
  const dir = tmpDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), text);
  return loadIntentRules(dir);
}

/** A rule parsed in memory, as the loader would give it. */
function ruleOf(name: string, text: string): IntentRule {
  return { ...parseYaml(text, `${name}.yaml`, intentRuleSchema, 'SLUICE_ERR_INTENT_RULE_INVALID').value, name, file: `${name}.yaml`, line: 2 };
}

const fridge = (life: number): DeviceLatest => ({ deviceId: 'fridge-1', kind: 'fridge', latest: [{ metric: 'water_filter_life', component: '', value: life, ts: 1 }] });
const empty = { lastFired: new Map<string, number>(), baselines: new Map<string, number>() };
const DAY = 86_400_000;

describe('intent rules', () => {
  it('loads the shipped examples (all off until vendors are chosen) and every trigger parses', () => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'intents');
    expect(loadIntentRules(dir)).toEqual({ rules: [], errors: [] });
    const enabled = Object.fromEntries(readdirSync(dir).map((f) => [f.replace('.yaml', ''), readFileSync(join(dir, f), 'utf8').replace(/^enabled: false$/m, 'enabled: true')]));
    const loaded = rulesFrom(enabled);
    expect(loaded.errors).toEqual([]);
    expect(loaded.rules.map((r) => [r.name, r.trigger.metric])).toEqual([
      ['coffee-pods', 'brews'],
      ['fridge-water-filter', 'water_filter_life'],
      ['smoke-alarm-battery', 'battery_low'],
      ['thermostat-service', 'fault_code'],
    ]);
  });

  it('keeps sensitive categories off unless the rule opts in', () => {
    const health = ruleYaml('  device: { kind: fridge }\n  metric: water_filter_life\n  below: 10').replace('household.water-filter', 'health.insulin');
    expect(rulesFrom({ health }).errors[0]!.message).toContain('health.yaml:7:9 SLUICE_ERR_INTENT_RULE_INVALID request.what: "health.insulin" is a sensitive category; it stays off unless the rule sets sensitive_opt_in: true');
    expect(rulesFrom({ health: `${health}sensitive_opt_in: true\n` }).rules).toHaveLength(1);
  });

  it('reports every problem with file:line:col, including plain http to another host', () => {
    const bad = ruleYaml('  device: { kind: fridge }\n  metric: water_filter_life\n  below: 10\n  above: 3', 'rate_limit: soon').replace('https://shop.example/sluice', 'http://shop.example');
    const { errors } = rulesFrom({ bad });
    expect(errors).toHaveLength(1);
    const lines = errors[0]!.message.split('\n').filter((l) => l.includes('SLUICE_ERR_INTENT_RULE_INVALID'));
    expect(lines.map((l) => l.replace(/^.*bad\.yaml:/, ''))).toEqual([
      '3:3 SLUICE_ERR_INTENT_RULE_INVALID trigger: give exactly one of below, above, equals, every',
      '11:15 SLUICE_ERR_INTENT_RULE_INVALID vendors[0].endpoint: expected an https:// URL (http:// only for 127.0.0.1 or localhost), got "http://shop.example"',
      '13:13 SLUICE_ERR_INTENT_RULE_INVALID rate_limit: expected a duration such as 30s, 3d, 30d, got "soon"',
    ]);
  });
});

describe('evaluateRules', () => {
  const filter = ruleOf('filter', ruleYaml('  device: { kind: fridge }\n  metric: water_filter_life\n  below: 10'));
  const pods = ruleOf('pods', ruleYaml('  device: { kind: coffee_machine }\n  metric: brews\n  every: 100'));

  it('fires below the threshold, not at or above it', () => {
    expect(evaluateRules([filter], [fridge(10)], empty, 0).firings).toEqual([]);
    expect(evaluateRules([filter], [fridge(5)], empty, 0).firings.map((f) => [f.rule.name, f.deviceId, f.reading.value])).toEqual([['filter', 'fridge-1', 5]]);
  });

  it('holds a rule back for its rate limit (30 days by default), then fires again', () => {
    const memory = { lastFired: new Map([['filter', 0]]), baselines: new Map<string, number>() };
    const inside = evaluateRules([filter], [fridge(5)], memory, 30 * DAY - 1);
    expect(inside).toMatchObject({ firings: [], limited: ['filter'] });
    expect(evaluateRules([filter], [fridge(5)], memory, 30 * DAY).firings).toHaveLength(1);
  });

  it('counts a consumable from the first value it sees, in steps of `every`', () => {
    const machine = (brews: number): DeviceLatest => ({ deviceId: 'coffee', kind: 'coffee_machine', latest: [{ metric: 'brews', component: '', value: brews, ts: 1 }] });
    const first = evaluateRules([pods], [machine(1077)], empty, 0);
    expect(first).toMatchObject({ firings: [], baselines: [{ value: 1077 }] });
    const memory = { lastFired: new Map<string, number>(), baselines: new Map([[first.baselines[0]!.key, 1077]]) };
    expect(evaluateRules([pods], [machine(1176)], memory, 0).firings).toEqual([]);
    expect(evaluateRules([pods], [machine(1177)], memory, 0).firings).toHaveLength(1);
  });

  it('ignores devices of another kind and drafts at most one intent per rule per evaluation', () => {
    const other = { ...fridge(1), kind: 'thermostat' };
    expect(evaluateRules([filter], [other], empty, 0).firings).toEqual([]);
    expect(evaluateRules([filter], [fridge(1), { ...fridge(2), deviceId: 'fridge-2' }], empty, 0).firings).toHaveLength(1);
  });
});

describe('intent and offer documents', () => {
  const request = { what: 'household.water-filter', quantity: 1, needBy: '2026-05-01' };

  it('signs each intent with its own fresh key and reply reference: two intents share nothing that links them', () => {
    const one = intentDocument(freshIdentity(), request, { country: 'DE', postalPrefix: '10405' }, 0);
    const two = intentDocument(freshIdentity(), request, { country: 'DE', postalPrefix: '10405' }, 0);
    expect(verifyDocument(one, one.public_key)).toBe(true);
    expect(verifyDocument({ ...one, quantity: 2 }, one.public_key)).toBe(false);
    expect(one.where).toEqual({ country: 'DE', postal_prefix: '104' });
    for (const k of ['id', 'reply', 'public_key', 'signature'] as const) expect(one[k]).not.toBe(two[k]);
    expect(Object.keys(one).sort()).toEqual(['format', 'id', 'need_by', 'offers_until', 'public_key', 'quantity', 'reply', 'signature', 'terms', 'what', 'where']);
  });

  it('takes an offer only when the vendor signed it for this reply', () => {
    const vendor = freshIdentity();
    const offer = signDocument({ format: 'sluice.offer/v1', offer_id: 'o1', reply: 'r1', price: { amount: 30, currency: 'EUR' }, delivery_by: '2026-04-10', valid_until: '2026-04-09T00:00:00Z', terms_accepted: true }, vendor.privateKey);
    expect(checkOffer(offer, 'r1', vendor.publicKey).ok).toBe(true);
    expect(checkOffer(offer, 'r2', vendor.publicKey)).toEqual({ ok: false, reason: 'the offer answers another reply reference' });
    expect(checkOffer(offer, 'r1', freshIdentity().publicKey)).toEqual({ ok: false, reason: "the offer's signature does not match the vendor's key" });
    expect(checkOffer({ ...offer, price: { amount: 1, currency: 'EUR' } }, 'r1', vendor.publicKey).ok).toBe(false);
  });

  it('signs the acceptance with the intent key and carries only the disclosed fields', () => {
    const id = freshIdentity();
    const a = acceptanceDocument(id, 'o1', { deliver_to: 'Street 1' });
    expect(verifyDocument(a, id.publicKey)).toBe(true);
    expect(a).toMatchObject({ format: 'sluice.acceptance/v1', reply: id.reply, offer_id: 'o1', disclosed: { deliver_to: 'Street 1' } });
  });
});

describe('openDataRelease', () => {
  const release = { stat: 'mean' as const, value: 9.4, epsilon: 0.5, mechanism: 'discrete-laplace' as const, clamp: [0, 50] as const, unitMs: 3_600_000, sensitivity: {}, noise: {}, accuracy95: 3.1, protectedUnits: 720 };
  const window = { start: 0, end: 30 * DAY };

  it('gives every release a fresh id and nothing stable', () => {
    const a = openDataRelease({ aggregate: 'energy_kwh', window, releases: [release] });
    const b = openDataRelease({ aggregate: 'energy_kwh', window, releases: [release] });
    if (!a.ok || !b.ok) throw new Error('refused');
    expect(a.document.release_id).not.toBe(b.document.release_id);
    expect(Object.keys(a.document).sort()).toEqual(['aggregate', 'format', 'items', 'release_id', 'window']);
  });

  it('refuses windows shorter than 7 days', () => {
    expect(openDataRelease({ aggregate: 'energy_kwh', window: { start: 0, end: DAY }, releases: [release] })).toEqual({ ok: false, reason: 'open data needs windows of at least 7 days; this one is 24 h' });
  });

  it('pins the numbers docs/open-data.md quotes', () => {
    // One home's 30-day sum of daily kWh, each day clamped to [0, 50] at 0.1 resolution (500 units), ε = 0.5.
    expect(noiseBound(500, 0.5)).toBe(2996);
  });
});
