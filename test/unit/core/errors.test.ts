import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCatalogue, renderErrorDoc, SluiceError } from '../../../src/core/index.js';
import { ROOT } from '../../helpers/gateway.js';

const DOC = join(ROOT, 'docs', 'errors.md');

describe('error catalogue', () => {
  it('docs/errors.md lists exactly the codes in the catalogue', () => {
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, renderErrorDoc());
    const doc = readFileSync(DOC, 'utf8');
    expect(doc).toBe(renderErrorDoc());
    const documented = [...doc.matchAll(/^\| `(SLUICE_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented).toEqual(Object.keys(errorCatalogue));
  });

  it('every code is namespaced and carries an exit status of 1 or 2', () => {
    for (const [code, entry] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^SLUICE_ERR_[A-Z_]+$/);
      expect([1, 2]).toContain(entry.exit);
    }
  });

  it('maps invalid input to exit 2 and runtime faults to exit 1', () => {
    expect(new SluiceError('SLUICE_ERR_CONFIG_INVALID', 'x').exitCode).toBe(2);
    expect(new SluiceError('SLUICE_ERR_DATA_DIR_LOCKED', 'x').exitCode).toBe(1);
    expect(JSON.parse(JSON.stringify(new SluiceError('SLUICE_ERR_USAGE', 'bad', { flag: '--x' })))).toEqual({
      code: 'SLUICE_ERR_USAGE',
      message: 'bad',
      details: { flag: '--x' },
    });
  });
});
