import type { MqttClient } from 'mqtt';
import { SluiceError, type Clock } from '../core/index.js';
import type { Call } from '../app/index.js';
import { createHome, type SimulatedDevice } from './home.js';

export interface SimulateOptions {
  devices: number;
  /** Telemetry messages per device per simulated minute. */
  rate: number;
  /** Simulated time runs this many times faster than real time, until it reaches the present. */
  speed: number;
  seed: number;
  /** ms of history published as fast as the gateway acknowledges it, before live mode. */
  backfill: number;
  /** Simulated start time (ms); default: now − backfill. */
  start?: number | undefined;
  /** Real ms to run after the start; undefined runs until stopped; 0 stops when the present is reached. */
  duration?: number | undefined;
  /** Simulated end (ms, exclusive): no reading is stamped at or after it, whenever the run happens. */
  until?: number | undefined;
  timezone: string;
}

export interface SimulateDeps {
  clock: Clock;
  /** The gateway's admin operations (through its socket). */
  call: Call;
  connect: (device: { id: string; password: string }) => Promise<MqttClient>;
  print: (text: string) => void;
  /** Stops the run (SIGINT). */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
}

export interface SimulationSummary {
  devices: string[];
  messages: number;
  from: number;
  to: number;
}

// Messages in flight before the simulator waits for a fence's PUBACKs (keeps backfill fast and bounded).
const WINDOW = 400;

/**
 * Runs the simulated household against a running gateway: registers its devices (marked
 * simulated) through the admin operations, connects each over MQTT, and publishes telemetry
 * stamped with simulated time. The readings depend only on the seed, the options and the start;
 * with `until` as well, they do not depend on when the run happens.
 */
export async function runSimulation(deps: SimulateDeps, options: SimulateOptions): Promise<SimulationSummary> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const home = createHome({ seed: options.seed, devices: options.devices, timezone: options.timezone });
  const realStart = deps.clock.now();
  const interval = Math.max(1, Math.round(60_000 / options.rate));
  // Aligned to the interval so two runs over the same period stamp the same times, and one
  // interval inside the backfill window so its oldest reading is still within ingest.max_past.
  const start = options.start ?? (Math.floor((realStart - options.backfill) / interval) + 1) * interval;
  const clients = await connectHome(deps, home);
  let messages = 0;
  let inFlight: Array<Promise<unknown>> = [];
  let t = start;
  try {
    for (;;) {
      if (deps.signal?.aborted) break;
      if (options.until !== undefined && t >= options.until) break;
      if (options.duration === 0 && t > realStart) break;
      if (options.duration !== undefined && options.duration > 0 && deps.clock.now() - realStart >= options.duration) break;
      // When this tick is due in real time: the backfill window at once, older history `speed`
      // times faster than it happened, and from the present on, as it happens.
      const due = t >= realStart ? t : t >= realStart - options.backfill ? realStart : realStart + (t - start) / options.speed;
      if (due > deps.clock.now()) {
        await Promise.all(inFlight);
        inFlight = [];
        while (!deps.signal?.aborted && deps.clock.now() < due) await sleep(Math.min(due - deps.clock.now(), 1000));
        if (deps.signal?.aborted) break;
      }
      // Everything goes at QoS 1 with up to WINDOW messages in flight: the gateway's publish-rate
      // limit slows a fast backfill by withholding PUBACKs, where QoS 0 would be dropped.
      for (let i = 0; i < home.length; i++) {
        const device = home[i]!;
        const payload = JSON.stringify({ ...device.step(t, interval), ts: t });
        inFlight.push(clients[i]!.publishAsync(`sluice/${device.id}/telemetry`, payload, { qos: 1 }));
        messages++;
      }
      if (inFlight.length >= WINDOW) {
        await Promise.all(inFlight);
        inFlight = [];
      }
      t += interval;
    }
    await Promise.all(inFlight);
  } finally {
    for (let i = 0; i < clients.length; i++) {
      await clients[i]!.publishAsync(`sluice/${home[i]!.id}/status`, 'offline', { qos: 1, retain: true }).catch(() => undefined);
      await clients[i]!.endAsync().catch(() => undefined);
    }
  }
  return { devices: home.map((d) => d.id), messages, from: start, to: t };
}

/** Registers (or re-keys) each simulated device and connects it. A real device with the same id is never touched. */
async function connectHome(deps: SimulateDeps, home: SimulatedDevice[]): Promise<MqttClient[]> {
  const registered = await deps.call('devices.list');
  const clients: MqttClient[] = [];
  for (const device of home) {
    const existing = registered.find((d) => d.id === device.id);
    if (existing && !existing.simulated) {
      throw new SluiceError('SLUICE_ERR_DEVICE_EXISTS', `"${device.id}" is a registered device that is not simulated; the simulator leaves it alone — remove it or rename it first`);
    }
    const credentials = (existing
      ? await deps.call('devices.passwd', { id: device.id })
      : await deps.call('devices.add', { id: device.id, profile: device.profile, simulated: true })) as { password: string };
    const client = await deps.connect({ id: device.id, password: credentials.password });
    await client.publishAsync(`sluice/${device.id}/status`, 'online', { qos: 1, retain: true });
    clients.push(client);
  }
  return clients;
}
