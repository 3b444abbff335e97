import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventBus, ManualClock, silentLogger } from '../../../src/core/index.js';
import { IntentBook, IntentRuleSet, IntentService, freshIdentity, type DeviceLatest } from '../../../src/intents/index.js';
import { ledgerFixture } from '../../helpers/sharing-db.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const KEY = freshIdentity().publicKey;
const rule = (metric: string, below: number, what = 'household.water-filter') =>
  ['version: 1', 'trigger:', '  device: { kind: fridge }', `  metric: ${metric}`, `  below: ${below}`, 'request:', `  what: ${what}`, 'vendors:', '  - name: shop', '    endpoint: https://shop.example/sluice', `    public_key: ${KEY}`, ''].join('\n');

describe('intent rules reload without a restart', () => {
  it('an edit, a new file and a removed file take effect at the next read; a broken edit keeps the last good rule and says where', () => {
    const dir = tmpDir();
    const set = new IntentRuleSet(dir);
    expect(set.current()).toEqual({ rules: [], errors: [], changed: [] });

    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 10));
    const first = set.current();
    expect(first.changed).toEqual(['filter.yaml']);
    expect(first.rules.map((r) => [r.name, r.trigger.below])).toEqual([['filter', 10]]);
    // Nothing changed: nothing is parsed again, the same rule objects stay.
    const again = set.current();
    expect(again.changed).toEqual([]);
    expect(again.rules[0]).toBe(first.rules[0]);

    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 20));
    expect(set.current().rules.map((r) => r.trigger.below)).toEqual([20]);

    // A broken edit: every problem with file:line:col, and the last good version (below 20) stays in force.
    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 20).replace('below: 20', 'below: soon'));
    const broken = set.current();
    expect(broken.rules.map((r) => r.trigger.below)).toEqual([20]);
    expect(broken.errors).toHaveLength(1);
    expect(broken.errors[0]!.code).toBe('SLUICE_ERR_INTENT_RULE_INVALID');
    expect(broken.errors[0]!.message).toMatch(/filter\.yaml:5:10 SLUICE_ERR_INTENT_RULE_INVALID trigger\.below: /);
    expect(broken.errors[0]!.message).toContain('filter.yaml does not load; the last good version of filter stays in force');

    // A new file loads beside it; a new broken file has no last good version and adds nothing.
    writeFileSync(join(dir, 'pods.yaml'), rule('brews', 3, 'household.coffee-pods'));
    writeFileSync(join(dir, 'smoke.yaml'), 'version: 1\ntrigger: {}\n');
    const more = set.current();
    expect(more.rules.map((r) => r.name)).toEqual(['filter', 'pods']);
    expect(more.errors.map((e) => /\w+\.yaml:\d+:\d+/.exec(e.message)?.[0])).toEqual(['filter.yaml:5:10', 'smoke.yaml:1:1']);
    expect(more.errors[1]!.message).not.toContain('stays in force');

    // Fixing the file ends the error; removing a file removes its rule.
    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 15));
    rmSync(join(dir, 'pods.yaml'));
    rmSync(join(dir, 'smoke.yaml'));
    const fixed = set.current();
    expect(fixed.errors).toEqual([]);
    expect(fixed.rules.map((r) => [r.name, r.trigger.below])).toEqual([['filter', 15]]);
    expect(fixed.changed.sort()).toEqual(['filter.yaml', 'pods.yaml', 'smoke.yaml']);

    // Turning a rule off is an edit like any other.
    writeFileSync(join(dir, 'filter.yaml'), `${rule('water_filter_life', 15)}enabled: false\n`);
    expect(set.current().rules).toEqual([]);
  });

  it('the running service drafts under the rule as the file says now', async () => {
    const f = await ledgerFixture();
    const dir = tmpDir();
    const book = new IntentBook({ db: f.db, ledger: f.ledger, clock: f.clock, timezone: 'UTC' });
    let life = 15;
    const latestOf = (deviceId: string): DeviceLatest => ({ deviceId, kind: 'fridge', latest: [{ metric: 'water_filter_life', component: '', value: life, ts: f.clock.now() }] });
    const service = new IntentService({ book, clock: f.clock as ManualClock, logger: silentLogger(), events: new EventBus(), latestOf, options: { rulesDir: dir, pollInterval: 3_600_000, requestTimeout: 1000, timezone: 'UTC' } });
    // Not started: onReadings reads the rules itself, as it does while running.
    expect(service.onReadings(['fridge-1'])).toEqual([]);
    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 10));
    expect(service.onReadings(['fridge-1'])).toEqual([]); // 15 is not below 10
    writeFileSync(join(dir, 'filter.yaml'), rule('water_filter_life', 20));
    expect(service.onReadings(['fridge-1'])).toHaveLength(1); // the edit took effect
    rmSync(join(dir, 'filter.yaml'));
    writeFileSync(join(dir, 'other.yaml'), rule('water_filter_life', 20, 'household.other-filter'));
    life = 5;
    const drafted = service.onReadings(['fridge-1']);
    expect(drafted).toHaveLength(1);
    expect(book.show(drafted[0]!).rule).toBe('other');
    f.db.close();
  });
});
