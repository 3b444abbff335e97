import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callAdmin } from '../../src/core/index.js';
import { dashboardUrl } from '../helpers/dashboard.js';
import { addDevice, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const ready = async (base: string) => {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
};

describe('GET /readyz with injected faults', () => {
  it('answers 503 naming a low disk and a store fault, and recovers when space returns', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    // More free space asked for than any disk has: "disk low". TEST ONLY hooks cap the database size: a store fault.
    const gw = await startGateway({ dataDir, env: { SLUICE_TEST_HOOKS: '1', SLUICE_INGEST_BATCH_INTERVAL: '2', SLUICE_WEB_READY_MIN_FREE_DISK_BYTES: String(2 ** 52) }, args: ['--web-port', '0'] });
    try {
      const base = await dashboardUrl(gw);
      const low = await ready(base);
      expect(low.status).toBe(503);
      expect(low.body.ready).toBe(false);
      expect(low.body.reasons).toHaveLength(1);
      expect(low.body.reasons[0]).toMatch(/^disk low: \d+ bytes free, below 4503599627370496$/);

      const client = await connectClient(gw.port, { username: 'thermo', password, clientId: 'thermo' });
      await callAdmin(join(dataDir, 'sluice.sock'), 'test.max_page_count', { pages: 'current' });
      const base0 = Date.now() - 600_000;
      const sent: Array<Promise<unknown>> = [];
      for (let i = 0; i < 400; i++) sent.push(client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20 + (i % 100) / 100, humidity: 40, ts: base0 + i * 1000 }), { qos: 1 }));
      await gw.waitForLog((l) => l.msg === 'cannot commit readings; acknowledgements are held until storage works again');
      const faulted = await ready(base);
      expect(faulted.status).toBe(503);
      expect(faulted.body.reasons[0]).toMatch(/^store fault: /);
      expect(faulted.body.reasons[1]).toMatch(/^disk low: /);

      await callAdmin(join(dataDir, 'sluice.sock'), 'test.max_page_count', { pages: 1_000_000 });
      await Promise.all(sent);
      await gw.waitForLog((l) => l.msg === 'storage works again; acknowledging readings');
      await client.endAsync();
      const recovered = await ready(base);
      expect(recovered.body.reasons).toEqual([expect.stringMatching(/^disk low: /)]);
    } finally {
      await gw.stop();
    }
  }, 90_000);
});
