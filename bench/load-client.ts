/**
 * A load generator, run as a child process (fork) so its CPU is not the broker's. It connects
 * its share of devices, reports `ready`, waits for `go`, publishes, and reports `done` with
 * what it measured. Modes: `burst` (N messages per device, W in flight) and `rate` (open loop,
 * one message per device every interval; records publish→PUBACK latency and acknowledged ts).
 */
import { performance } from 'node:perf_hooks';
import { LiteClient } from './lib/mqtt-lite.js';
import { seededRandom } from './lib/stats.js';

export interface LoadDevice {
  id: string;
  /** Omitted for brokers without authentication. */
  password?: string;
  /** The loopback address the device connects from (a "host" of its own; 127.0.0.0/8 only). */
  localAddress?: string;
}

export interface LoadConfig {
  port: number;
  devices: LoadDevice[];
  mode: 'burst' | 'rate';
  qos: 0 | 1;
  /** burst: messages per device */
  messages?: number;
  /** burst: QoS 1 messages in flight per device */
  window?: number;
  /** rate: ms between two messages of one device */
  intervalMs?: number;
  /** rate: ms to publish; 0 = until the connection drops */
  durationMs?: number;
  /** rate: ms to wait for outstanding PUBACKs after the last publish */
  drainMs?: number;
  recordLatency?: boolean;
  recordAcked?: boolean;
  seed?: number;
}

export interface LoadResult {
  connected: number;
  /** epoch ms (fractional), comparable across processes */
  startedAt: number;
  endedAt: number;
  sent: number;
  acked: number;
  /** publish→PUBACK in ms, one per acknowledged message (rate mode) */
  latencies?: number[];
  /** device id → device `ts` of every acknowledged message (rate mode) */
  ackedTs?: Record<string, number[]>;
  errors: string[];
}

type ToWorker = { type: 'go' } | { type: 'stop' };
type FromWorker = { type: 'ready'; connected: number; errors: string[] } | { type: 'done'; result: LoadResult };

const now = () => performance.timeOrigin + performance.now();
const CONNECT_CONCURRENCY = 8;

/** ~120 bytes on the wire with the topic: 4 metrics and the device's own ts. */
export function telemetryPayload(ts: number, rnd: () => number): Buffer {
  const t = (19 + rnd() * 4).toFixed(2);
  const h = (40 + rnd() * 20).toFixed(1);
  return Buffer.from(`{"temperature":${t},"humidity":${h},"setpoint_heat":21.5,"heating":${rnd() < 0.5},"ts":${ts}}`);
}

class DeviceLoad {
  private lastTs = 0;
  readonly topic: string;
  constructor(
    readonly id: string,
    readonly client: LiteClient,
    private readonly rnd: () => number,
  ) {
    this.topic = `sluice/${id}/telemetry`;
  }

  /** A device ts unique per device: wall ms, bumped past the previous one. */
  nextMessage(): { ts: number; payload: Buffer } {
    const ts = Math.max(Date.now(), this.lastTs + 1);
    this.lastTs = ts;
    return { ts, payload: telemetryPayload(ts, this.rnd) };
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
  // Results can be megabytes: wait until the channel took them, or exiting may drop them.
  const send = (m: FromWorker) => new Promise<void>((resolve) => process.send!(m, undefined, {}, () => resolve()));
  const rnd = seededRandom(config.seed ?? 1);
  const errors: string[] = [];
  const devices: DeviceLoad[] = [];
  // A few connects at a time: the gateway checks passwords (scrypt) two at a time and refuses
  // connections beyond its pending-authentication queue (broker.limits.max_pending_auth).
  for (let i = 0; i < config.devices.length; i += CONNECT_CONCURRENCY) {
    await Promise.all(
      config.devices.slice(i, i + CONNECT_CONCURRENCY).map(async (d) => {
        try {
          const client = await LiteClient.connect({
            port: config.port,
            clientId: d.id,
            ...(d.localAddress ? { localAddress: d.localAddress } : {}),
            ...(d.password !== undefined ? { username: d.id, password: d.password } : {}),
          });
          devices.push(new DeviceLoad(d.id, client, seededRandom(Math.floor(rnd() * 2 ** 32))));
        } catch (err) {
          errors.push((err as Error).message);
        }
      }),
    );
  }
  await send({ type: 'ready', connected: devices.length, errors });
  await new Promise<void>((resolve) => {
    process.on('message', (m: ToWorker) => {
      if (m.type === 'go') resolve();
    });
  });
  const result = config.mode === 'burst' ? await burst(config, devices) : await rate(config, devices, rnd);
  result.errors.push(...errors);
  await send({ type: 'done', result });
  await Promise.all(devices.map((d) => d.client.end()));
  process.disconnect();
}

async function burst(config: LoadConfig, devices: DeviceLoad[]): Promise<LoadResult> {
  const messages = config.messages ?? 1000;
  const window = config.window ?? 10;
  let sent = 0;
  let acked = 0;
  const startedAt = now();
  await Promise.all(
    devices.map(async (d) => {
      if (config.qos === 0) {
        for (let i = 0; i < messages; i++) {
          sent++;
          if (!d.client.publish(d.topic, d.nextMessage().payload, 0)) await d.client.drain();
        }
        await d.client.ping();
        acked += messages;
        return;
      }
      await new Promise<void>((resolve) => {
        let issued = 0;
        let done = 0;
        const next = () => {
          issued++;
          sent++;
          d.client.publish(d.topic, d.nextMessage().payload, 1, onAck);
        };
        const onAck = () => {
          done++;
          acked++;
          if (done === messages) resolve();
          else if (issued < messages) next();
        };
        void d.client.closedPromise.then(resolve);
        for (let i = 0; i < Math.min(window, messages); i++) next();
      });
    }),
  );
  return { connected: devices.length, startedAt, endedAt: now(), sent, acked, errors: [] };
}

async function rate(config: LoadConfig, devices: DeviceLoad[], rnd: () => number): Promise<LoadResult> {
  const interval = config.intervalMs ?? 10_000;
  const duration = config.durationMs ?? 0;
  const latencies: number[] = [];
  const ackedTs: Record<string, number[]> = {};
  let sent = 0;
  let acked = 0;
  const startedAt = now();
  const timers = new Set<NodeJS.Timeout>();
  let publishing = true;
  let stopDuration: NodeJS.Timeout | undefined;
  const stoppers: Array<() => void> = [];

  const finished = Promise.all(
    devices.map(
      (d) =>
        new Promise<void>((resolve) => {
          const list: number[] = [];
          if (config.recordAcked) ackedTs[d.id] = list;
          const phase = rnd() * interval;
          let k = 0;
          let settled = false;
          const settle = () => {
            if (!settled) {
              settled = true;
              resolve();
            }
          };
          const tick = () => {
            if (!publishing || d.client.closed) {
              if (d.client.inFlight === 0 || d.client.closed) settle();
              return;
            }
            const { ts, payload } = d.nextMessage();
            const t0 = performance.now();
            sent++;
            d.client.publish(d.topic, payload, config.qos, () => {
              acked++;
              if (config.recordLatency) latencies.push(Math.round((performance.now() - t0) * 1000) / 1000);
              if (config.recordAcked) list.push(ts);
              if (!publishing && d.client.inFlight === 0) settle();
            });
            k++;
            const delay = Math.max(0, startedAt + phase + k * interval - now());
            const timer = setTimeout(() => {
              timers.delete(timer);
              tick();
            }, delay);
            timers.add(timer);
          };
          const first = setTimeout(() => {
            timers.delete(first);
            tick();
          }, phase);
          timers.add(first);
          void d.client.closedPromise.then(settle);
          // Called once publishing stops: settle now if nothing is outstanding.
          stoppers.push(() => {
            if (d.client.inFlight === 0 || d.client.closed) settle();
          });
        }),
    ),
  );
  const stop = () => {
    publishing = false;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of stoppers) s();
  };
  if (duration > 0) stopDuration = setTimeout(stop, duration);
  process.on('message', (m: ToWorker) => {
    if (m.type === 'stop') stop();
  });
  // After publishing stops, give outstanding PUBACKs a bounded time.
  const drained = new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (!publishing) {
        clearInterval(poll);
        setTimeout(resolve, config.drainMs ?? 5000).unref();
      }
    }, 20);
    void finished.then(() => {
      clearInterval(poll);
      resolve();
    });
  });
  await Promise.race([finished, drained]);
  stop();
  if (stopDuration) clearTimeout(stopDuration);
  const result: LoadResult = { connected: devices.length, startedAt, endedAt: now(), sent, acked, errors: [] };
  if (config.recordLatency) result.latencies = latencies;
  if (config.recordAcked) result.ackedTs = ackedTs;
  return result;
}

if (process.send) {
  main().catch((err: unknown) => {
    process.send!({ type: 'done', result: { connected: 0, startedAt: 0, endedAt: 0, sent: 0, acked: 0, errors: [String(err)] } });
    process.exitCode = 1;
  });
}
