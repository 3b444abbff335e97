import { writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildApp, buildMaintenance, buildSharing, openContext, type App, type GatewayContext, type Sharing } from '../../../src/app/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { ManualClock, silentLogger } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

export const POLICY = `version: 1
vendor: acme-heating
endpoint: https://acme.example/v1
purpose: Tune my heating schedule
expires: 2026-12-31
schedule: "0 3 * * *"
secret_file: acme.key
share:
  - devices: { kind: thermostat }
    metrics: [temperature]
    window: 1d
    stats: [mean]
`;

/** ε 0.5 a window against a vendor budget of ε 1 per 30 days: two daily windows fit. */
export const NOISY_POLICY = `version: 1
vendor: Acme Energy
endpoint: https://acme.example/v1
purpose: Compare my energy use
expires: 2026-12-31
schedule: "0 3 * * *"
secret_file: acme.key
budget: { epsilon: 1, per: 30d }
share:
  - devices: { kind: smart_plug }
    metrics: [energy]
    window: 1d
    stats: [increase]
    privacy: { epsilon: 0.5, clamp: [0, 2] }
`;

/** The daily window starting on November `d`, 2026, as the ledger writes it. */
export const novemberDay = (d: number) => `2026-11-${String(d).padStart(2, '0')}/2026-11-${String(d + 1).padStart(2, '0')}`;

/** A data directory opened the way a CLI command without a gateway opens it, with one policy file. */
export async function appFixture(env: Record<string, string> = {}): Promise<{ dir: string; clock: ManualClock; context: GatewayContext; sharing: Sharing; app: App }> {
  const dir = tmpDir();
  const policiesDir = join(dir, 'policies');
  mkdirSync(policiesDir);
  writeFileSync(join(policiesDir, 'acme.yaml'), POLICY);
  writeFileSync(join(policiesDir, 'acme.key'), 'test-signing-key\n', { mode: 0o600 });
  const config = loadConfig({
    // The app's own tests run without the terms exchange (test/unit/terms covers it).
    env: { SLUICE_SHARE_REQUIRE_TERMS: 'false', ...env },
    cwd: dir,
    flags: { data_dir: join(dir, 'data'), devices_dir: resolve(import.meta.dirname, '..', '..', '..', 'devices'), policies_dir: policiesDir, timezone: 'Europe/Berlin' },
  });
  const clock = new ManualClock(Date.parse('2026-11-23T12:00:00Z'));
  const context = await openContext(config, { kind: 'cli', logger: silentLogger(), clock });
  const sharing = buildSharing(context);
  const app = buildApp({ context, sharing, maintenance: buildMaintenance(context) });
  return { dir, clock, context, sharing, app };
}
