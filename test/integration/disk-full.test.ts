import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callAdmin } from '../../src/core/index.js';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const MESSAGES = 400;

describe('full disk (simulated with max_page_count)', () => {
  it('holds PUBACKs while full, keeps serving, marks status, and stores everything once space returns', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    // TEST ONLY hooks: the admin operation test.max_page_count caps the database size.
    const gw = await startGateway({ dataDir, env: { SLUICE_TEST_HOOKS: '1', SLUICE_INGEST_BATCH_INTERVAL: '2' } });
    const socket = join(dataDir, 'sluice.sock');
    try {
      const client = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo' });
      await callAdmin(socket, 'test.max_page_count', { pages: 'current' });
      let acked = 0;
      const base = Date.now() - 600_000;
      const sent: Array<Promise<unknown>> = [];
      for (let i = 0; i < MESSAGES; i++) {
        const payload = JSON.stringify({ temperature: 20 + (i % 100) / 100, humidity: 40 + (i % 10), setpoint_heat: 21, ts: base + i * 1000 });
        sent.push(client.publishAsync('sluice/thermo/telemetry', payload, { qos: 1 }).then(() => acked++));
      }
      const fault = await gw.waitForLog((l) => l.msg === 'cannot commit readings; acknowledgements are held until storage works again');
      expect(typeof fault.freeBytes).toBe('number');
      // The first commit to fail: the database (a new series) or the hot log (readings).
      expect(fault.code).toMatch(/^(SQLITE_FULL|ENOSPC)$/);
      // No PUBACK while full: the count stands still.
      await new Promise((r) => setTimeout(r, 300));
      const heldAt = acked;
      await new Promise((r) => setTimeout(r, 1500));
      expect(acked).toBe(heldAt);
      expect(acked).toBeLessThan(MESSAGES);

      // Still serving: another connection is accepted, and status says what is wrong.
      const probe = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo-probe' });
      await probe.endAsync();
      const status = JSON.parse(cli(['status', '--json'], { dataDir }).stdout) as { store: string; store_fault: string };
      expect(status.store).toMatch(/faulted \((SQLITE_FULL|ENOSPC)\)/);
      expect(status.store_fault).toMatch(/bytes free on disk/);
      expect(gw.logs.filter((l) => l.msg === fault.msg)).toHaveLength(1);

      // Space returns: the gateway resumes by itself and acknowledges everything.
      await callAdmin(socket, 'test.max_page_count', { pages: 1_000_000 });
      await Promise.all(sent);
      expect(acked).toBe(MESSAGES);
      await gw.waitForLog((l) => l.msg === 'storage works again; acknowledging readings');
      await client.endAsync();
      const r = cli(["readings", "thermo", "--since", "1h", "--json"], { dataDir });
      const readings = JSON.parse(r.stdout) as unknown[];
      expect(readings).toHaveLength(MESSAGES * 3);
      const after = JSON.parse(cli(['status', '--json'], { dataDir }).stdout) as { store: string };
      expect(after.store).toBe('ok');
    } finally {
      await gw.stop();
    }
  });
});
