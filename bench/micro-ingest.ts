/**
 * `node dist/bench/micro-ingest.js [messages]`: the ingest pipeline in one process, without a
 * broker or sockets — TelemetryIntake → ReadingWriter → hot log, as main.ts wires them, in
 * `interval` durability — to measure what single parts of it cost per message (CPU µs of this
 * process): the poison guard, and a gateway-stamped message's delivery record. Each variant
 * runs in a fresh data dir, 3 times, median; variants alternate so drift hits each alike.
 */
import { join } from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { silentLogger, systemClock } from '../src/core/index.js';
import type { DeviceRecord } from '../src/devices/index.js';
import { openContext } from '../src/app/index.js';
import { POISON_FILE, PoisonGuard, RedeliveryMemory, TelemetryIntake, ingestOptionsFrom, replayCrash } from '../src/ingest/index.js';
import { ReadingWriter, hotPathFrom, writerOptionsFrom } from '../src/store/index.js';
import { benchTmp, removeDir, ROOT } from './lib/procs.js';

type Variant = { name: string; poison: boolean; deviceTs: boolean };

const VARIANTS: Variant[] = [
  { name: 'device ts, poison guard on (the default path)', poison: true, deviceTs: true },
  { name: 'device ts, no poison guard', poison: false, deviceTs: true },
  { name: 'no device ts (delivery record), poison guard on', poison: true, deviceTs: false },
];

const DEVICES = 50;
const IN_FLIGHT = 500;

async function runOnce(v: Variant, messages: number): Promise<number> {
  const dir = benchTmp('micro');
  try {
    const config = loadConfig({ flags: { data_dir: dir, devices_dir: join(ROOT, 'devices'), policies_dir: join(ROOT, 'policies') }, env: { SLUICE_INGEST_DURABILITY: 'interval' }, cwd: dir });
    const logger = silentLogger();
    const ctx = await openContext(config, { kind: 'gateway', logger, clock: systemClock });
    const hot = hotPathFrom(config, ctx.hot);
    const writer = new ReadingWriter({ db: ctx.db, clock: systemClock, logger, events: ctx.events, hot, options: writerOptionsFrom(config) });
    writer.start();
    const poison = v.poison ? new PoisonGuard({ file: join(dir, POISON_FILE), db: ctx.db }) : undefined;
    if (poison) await replayCrash({ poison, sink: writer, logger, now: systemClock.now() });
    const intake = new TelemetryIntake({
      sink: writer,
      profiles: ctx.profiles,
      clock: systemClock,
      logger,
      events: ctx.events,
      options: ingestOptionsFrom(config),
      ...(poison ? { poison } : {}),
      redelivery: new RedeliveryMemory({ stored: (c, p) => writer.storedDelivery(c, p) }),
    });
    const devices: DeviceRecord[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const id = `m-${i}`;
      await ctx.registry.add({ id, profile: 'thermostat' });
      devices.push(ctx.registry.get(id)!);
    }
    const base = Date.now() - 60_000;
    const send = (i: number) => {
      const d = devices[i % DEVICES]!;
      const ts = v.deviceTs ? `,"ts":${base + i}` : '';
      const payload = Buffer.from(`{"temperature":${20 + (i % 50) / 10},"humidity":${40 + (i % 20)},"setpoint_heat":21.5,"heating":${i % 2 === 0}${ts}}`);
      return intake.fromDevice(d, d.id, { topic: `sluice/${d.id}/telemetry`, payload, qos: 1, dup: false, messageId: (Math.floor(i / DEVICES) % 65535) + 1 });
    };
    // Warm the JIT and the series cache first.
    await Promise.all(Array.from({ length: 2000 }, (_, i) => send(i)));
    const cpu0 = process.cpuUsage();
    let next = 2000;
    const end = 2000 + messages;
    const worker = async () => {
      while (next < end) await send(next++);
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const cpu = process.cpuUsage(cpu0);
    await writer.stop();
    poison?.close();
    ctx.close();
    return (cpu.user + cpu.system) / messages;
  } finally {
    removeDir(dir);
  }
}

async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? 100_000);
  const results = new Map<string, number[]>();
  const only = process.env.MICRO_VARIANT;
  for (let round = 0; round < 3; round++) {
    for (const v of VARIANTS.filter((x, i) => only === undefined || String(i) === only)) {
      const us = await runOnce(v, messages);
      (results.get(v.name) ?? results.set(v.name, []).get(v.name)!).push(us);
    }
  }
  for (const [name, list] of results) {
    const sorted = [...list].sort((a, b) => a - b);
    console.log(`${name}: ${sorted[1]!.toFixed(1)} µs CPU/message (runs ${list.map((x) => x.toFixed(1)).join(', ')})`);
  }
}

await main();
