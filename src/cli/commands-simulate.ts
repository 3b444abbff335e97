import mqtt from 'mqtt';
import { SluiceError, lockHolder, parseDuration, systemClock } from '../core/index.js';
import { runSimulation } from '../simulate/index.js';
import type { Command } from './command.js';
import { withGateway } from './connect.js';

function numberFlag(value: string | boolean | undefined, name: string, fallback: number, check: (n: number) => boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(n) || !check(n)) throw new SluiceError('SLUICE_ERR_USAGE', `--${name}: got "${String(value)}"`);
  return n;
}

function isoFlag(value: string | boolean | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms) || !/(Z|[+-]\d{2}:?\d{2})$/.test(String(value))) {
    throw new SluiceError('SLUICE_ERR_USAGE', `--${name}: expected an ISO 8601 time with offset; got "${String(value)}"`);
  }
  return ms;
}

export const simulateCommands: Command[] = [
  {
    name: 'simulate',
    usage: 'simulate [--devices N] [--rate R] [--speed S] [--seed N] [--backfill 7d] [--start ISO] [--until ISO] [--duration 10m] [--host H] [--mqtt-port N]',
    summary: 'Run a simulated household against the running gateway (devices marked simulated; never shared unless a policy names them).',
    options: {
      devices: { type: 'string' },
      rate: { type: 'string' },
      speed: { type: 'string' },
      seed: { type: 'string' },
      backfill: { type: 'string' },
      start: { type: 'string' },
      until: { type: 'string' },
      duration: { type: 'string' },
      host: { type: 'string' },
      'mqtt-port': { type: 'string' },
    },
    args: 0,
    async run({ flags, config, print }) {
      const cfg = config();
      if (lockHolder(cfg.data_dir)?.kind !== 'gateway') {
        throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', `no gateway runs on ${cfg.data_dir}; start it first (npm start, or sluice start --data ${cfg.data_dir})`);
      }
      const seed = numberFlag(flags.seed, 'seed', Math.floor(Math.random() * 2 ** 31), (n) => Number.isInteger(n) && n >= 0);
      const start = isoFlag(flags.start, 'start');
      const until = isoFlag(flags.until, 'until');
      if (start !== undefined && until !== undefined && until <= start) {
        throw new SluiceError('SLUICE_ERR_USAGE', `--until ${String(flags.until)} must be after --start ${String(flags.start)}`);
      }
      const options = {
        devices: numberFlag(flags.devices, 'devices', 10, (n) => Number.isInteger(n) && n >= 1 && n <= 1000),
        rate: numberFlag(flags.rate, 'rate', 1, (n) => n > 0 && n <= 600),
        speed: numberFlag(flags.speed, 'speed', 1, (n) => n >= 1),
        seed,
        backfill: typeof flags.backfill === 'string' ? parseDuration(flags.backfill, '--backfill') : 0,
        start,
        until,
        duration: typeof flags.duration === 'string' ? (flags.duration === '0' ? 0 : parseDuration(flags.duration, '--duration')) : undefined,
        timezone: cfg.timezone,
      };
      if (options.backfill > cfg.ingest.max_past) {
        throw new SluiceError('SLUICE_ERR_USAGE', `--backfill ${String(flags.backfill)} reaches further back than ingest.max_past; the gateway would refuse the oldest readings`);
      }
      const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const summary = await withGateway(cfg, async (call) => {
          const status = await call('status');
          const port = typeof flags['mqtt-port'] === 'string' ? Number(flags['mqtt-port']) : status.mqtt_port;
          if (!port) throw new SluiceError('SLUICE_ERR_GATEWAY_NOT_RUNNING', 'the gateway reports no MQTT port');
          print(`Simulating ${options.devices} device(s) with seed ${seed} against mqtt://${host}:${port} (Ctrl-C stops).`);
          return runSimulation(
            {
              clock: systemClock,
              call,
              print,
              signal: abort.signal,
              connect: ({ id, password }) =>
                mqtt.connectAsync(`mqtt://${host}:${port}`, {
                  protocolVersion: 4,
                  clientId: id,
                  username: id,
                  password,
                  reconnectPeriod: 1000,
                  will: { topic: `sluice/${id}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
                }),
            },
            options,
          );
        });
        print(
          `Published ${summary.messages} message(s) from ${summary.devices.length} device(s), simulated ${new Date(summary.from).toISOString()} → ${new Date(summary.to).toISOString()}, seed ${seed}.`,
        );
        return 0;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  },
];
