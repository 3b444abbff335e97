import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envKeys } from '../../../src/config/index.js';
import { ROOT } from '../../helpers/gateway.js';

describe('docs/configuration.md', () => {
  it('documents every setting with its environment variable', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z_.]+)` \| `(SLUICE_[A-Z_]+)` \|/gm)].map((m) => [m[2], m[1]!.split('.')]);
    const byName = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    expect(rows.sort(byName)).toEqual(envKeys().sort(byName));
  });
});
