import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { startGateway } from '../../src/main.js';
import { connectClient, DEVICES_DIR } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

describe('PUBACK after commit', () => {
  it('acknowledges a QoS 1 reading only after its batch is committed, even when the commit is slow', async () => {
    const dataDir = tmpDir();
    const config = loadConfig({ env: {}, flags: { data_dir: dataDir, devices_dir: DEVICES_DIR, 'mqtt.port': 0, 'web.port': 0, 'mqtt.host': '127.0.0.1' } });
    const events: Array<[string, number]> = [];
    const gateway = await startGateway(config, silentLogger(), {
      writer: {
        beforeCommit: async () => {
          events.push(['commit-start', performance.now()]);
          await new Promise((r) => setTimeout(r, 300)); // an SD card having a bad day
        },
        afterCommit: () => events.push(['commit-end', performance.now()]),
      },
    });
    try {
      const { password } = await gateway.context.registry.add({ id: 'thermo', profile: 'thermostat' });
      const client = await connectClient(gateway.mqttPort, { username: 'thermo', password: password ?? '' });
      const sent = performance.now();
      await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20.5, ts: Date.now() }), { qos: 1 });
      events.push(['puback', performance.now()]);
      await client.endAsync();
      expect(events.map(([e]) => e)).toEqual(['commit-start', 'commit-end', 'puback']);
      expect(events[2]![1] - sent).toBeGreaterThanOrEqual(290);
      expect(gateway.context.queries.readings({ deviceId: 'thermo' }).map((r) => r.value)).toEqual([20.5]);
    } finally {
      await gateway.stop();
    }
  });
});
