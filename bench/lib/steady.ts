import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { callAdmin, SOCKET_FILE } from '../../src/core/index.js';
import type { BenchOptions } from './part.js';
import type { Provisioned } from './provision.js';
import { ROOT, runLoad, startGateway, throughput, UNTHROTTLED } from './procs.js';

/** Messages per device a steady-state run starts with (issue 15: every series has data, as in a long-running home). */
export const PREFILL_PER_DEVICE = 1000;

/**
 * Fills a provisioned template through the real gateway: `perDevice` QoS 1 messages per device
 * (4 readings each, device ts just before now), then a clean stop, which seals them into the
 * database. Every run that clones the template then starts on a store that already holds data.
 */
export async function prefill(prov: Provisioned, options: BenchOptions, perDevice = options.quick ? 50 : PREFILL_PER_DEVICE): Promise<{ messages: number; seconds: number; readings: number }> {
  const t0 = performance.now();
  const gw = await startGateway({ dataDir: prov.template, env: UNTHROTTLED });
  let messages = 0;
  try {
    const results = await runLoad({ port: gw.port, mode: 'burst', qos: 1, messages: perDevice, window: 10, seed: options.seed + 7 }, prov.devices, options.loadProcs);
    messages = throughput(results).messages;
  } finally {
    await gw.stop();
    await gw.kill();
  }
  const readings = storedReadings(prov.template);
  const seconds = (performance.now() - t0) / 1000;
  options.log(`prefill: ${messages} messages (${perDevice} per device × ${prov.devices.length}) through the gateway, ${readings} readings stored, in ${seconds.toFixed(0)} s`);
  if (messages !== perDevice * prov.devices.length) throw new Error(`prefill acknowledged ${messages} of ${perDevice * prov.devices.length} messages`);
  return { messages, seconds, readings };
}

/** `sluice … --json` against a data dir (through the admin socket when a gateway runs there). */
export function sluiceJson<T>(dataDir: string, args: string[]): T {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'sluice.js'), ...args, '--data', dataDir, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, SLUICE_DEVICES_DIR: join(ROOT, 'devices'), SLUICE_POLICIES_DIR: join(ROOT, 'policies'), SLUICE_LOG_LEVEL: 'error' },
    maxBuffer: 256 * 2 ** 20,
  });
  if (r.status !== 0) throw new Error(`sluice ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Every reading the store holds, sealed or still in the hot log, as `sluice db info` counts them (layout-agnostic). */
export function storedReadings(dataDir: string): number {
  const info = sluiceJson<{ readings: number; unsealed_readings?: number }>(dataDir, ['db', 'info']);
  return info.readings + (info.unsealed_readings ?? 0);
}

/** One admin operation on the gateway running in `dataDir` (no CLI process: cheap enough to ask per device). */
export function admin<T>(dataDir: string, op: string, params: Record<string, unknown> = {}): Promise<T> {
  return callAdmin(join(dataDir, SOCKET_FILE), op, params, 60_000) as Promise<T>;
}
