import type { MqttClient } from 'mqtt';
import { cli } from './gateway.js';
import { connectFrom } from './mqtt-raw.js';

/** A well-behaved thermostat on its own address, publishing QoS 1 readings at a steady pace. */
export interface SteadyDevice {
  /** Publishes acknowledged so far. */
  readonly acked: number;
  /** Publishes that failed (should stay 0). */
  readonly failures: string[];
  stop(): Promise<void>;
  /** Readings the gateway stored for it. */
  stored(dataDir: string): number;
}

export async function startSteadyDevice(port: number, id: string, password: string, everyMs = 200, localAddress = '127.0.0.2'): Promise<SteadyDevice> {
  let client: MqttClient = await connectFrom(port, localAddress, { clientId: id, username: id, password });
  let acked = 0;
  let running = true;
  const failures: string[] = [];
  let i = 0;
  const loop = (async () => {
    while (running) {
      try {
        if (!client.connected) client = await connectFrom(port, localAddress, { clientId: id, username: id, password });
        await client.publishAsync(`sluice/${id}/telemetry`, JSON.stringify({ temperature: 20 + (i++ % 100) / 100 }), { qos: 1 });
        acked++;
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    get acked() {
      return acked;
    },
    failures,
    async stop() {
      running = false;
      await loop;
      await client.endAsync();
    },
    stored(dataDir) {
      const r = cli(['readings', id, '--json', '--since', '1h'], { dataDir });
      if (r.status !== 0) throw new Error(`readings failed: ${r.stderr}`);
      return (JSON.parse(r.stdout) as unknown[]).length;
    },
  };
}
