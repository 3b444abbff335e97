import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadProfiles, profileSchema } from '../../../src/devices/index.js';
import { ROOT } from '../../helpers/gateway.js';

const SCHEMA_FILE = join(ROOT, 'docs', 'schemas', 'device-profile.json');

/** The JSON Schema editors use for devices/*.yaml (the `# yaml-language-server: $schema=` line). */
function renderSchema(): string {
  const schema = z.toJSONSchema(profileSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'Sluice device profile', $id: 'https://sluice.invalid/schemas/device-profile.json' }, null, 2)}\n`;
}

describe('device profile JSON Schema', () => {
  it('docs/schemas/device-profile.json matches the zod schema (UPDATE_DOCS=1 rewrites it)', () => {
    if (process.env.UPDATE_DOCS === '1') writeFileSync(SCHEMA_FILE, renderSchema());
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(renderSchema());
  });
});

describe('profile errors', () => {
  it('lists every problem of a broken profile with file:line:col', () => {
    const loaded = loadProfiles(join(ROOT, 'test', 'fixtures', 'devices'));
    expect(loaded.profiles.size).toBe(0);
    expect(loaded.errors.map((e) => e.message.replace(ROOT + '/', ''))).toMatchInlineSnapshot(`
      [
        "test/fixtures/devices/broken-profile.yaml: 3 problems
      test/fixtures/devices/broken-profile.yaml:7:5 SLUICE_ERR_CONFIG_INVALID metrics.battery: min must not exceed max
            type: number
            ^
      test/fixtures/devices/broken-profile.yaml:16:17 SLUICE_ERR_CONFIG_INVALID mappings[0].readings[0].invert: expected boolean, got "yes"
                invert: yes
                        ^
      test/fixtures/devices/broken-profile.yaml:21:9 SLUICE_ERR_CONFIG_INVALID mappings[0].readings[2].sclae: unknown key "sclae"; did you mean "scale"?
                sclae: 2
                ^",
      ]
    `);
  });
});
