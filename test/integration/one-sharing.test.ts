import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ManualClock, SOCKET_FILE, callAdmin, silentLogger } from '../../src/core/index.js';
import { startGateway } from '../../src/main.js';
import { DEVICES_DIR } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';
import { POLICY } from '../unit/app/fixture.js';

// Counts the policy books a gateway builds: the admin operations and the disclosure path must share one.
const books = vi.hoisted(() => ({ built: 0 }));
vi.mock('../../src/policy/index.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/policy/index.js')>();
  class CountedPolicyBook extends original.PolicyBook {
    constructor(deps: ConstructorParameters<typeof original.PolicyBook>[0]) {
      super(deps);
      books.built++;
    }
  }
  return { ...original, PolicyBook: CountedPolicyBook };
});

describe('one Sharing per gateway', () => {
  it('an approval through the admin socket is seen by the same book the scheduler and forwarder use', async () => {
    const dir = tmpDir();
    const policiesDir = join(dir, 'policies');
    mkdirSync(policiesDir);
    writeFileSync(join(policiesDir, 'acme.yaml'), POLICY);
    writeFileSync(join(policiesDir, 'acme.key'), 'test-signing-key\n', { mode: 0o600 });
    const dataDir = join(dir, 'data');
    const config = loadConfig({
      env: {},
      cwd: dir,
      flags: { data_dir: dataDir, devices_dir: DEVICES_DIR, policies_dir: policiesDir, timezone: 'Europe/Berlin', 'mqtt.host': '127.0.0.1', 'mqtt.port': 0, 'web.port': 0 },
    });
    const gateway = await startGateway(config, silentLogger(), { clock: new ManualClock(Date.parse('2026-11-23T12:00:00Z')) });
    try {
      const socket = join(dataDir, SOCKET_FILE);
      await callAdmin(socket, 'devices.add', { id: 't1', profile: 'thermostat' });
      const approved = (await callAdmin(socket, 'policy.approve', { name: 'acme' })) as { version: string };
      expect(await callAdmin(socket, 'policy.list')).toMatchObject([{ name: 'acme', in_force: true, version: approved.version }]);
      expect(books.built).toBe(1);
    } finally {
      await gateway.stop();
    }
  });
});
