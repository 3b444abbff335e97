import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const running: GatewayChild[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.kill();
});

/** What a fresh subscriber is handed as retained on one topic (the broker sends retained state at SUBACK). */
async function retainedOn(port: number, password: string, topic: string): Promise<string[]> {
  const viewer = await connectClient(port, { username: 'home', password, clientId: `viewer-${Math.random().toString(36).slice(2)}` });
  const seen: string[] = [];
  viewer.on('message', (_t, payload, packet) => {
    if (packet.retain) seen.push(payload.toString());
  });
  await viewer.subscribeAsync(topic, { qos: 1 });
  await sleep(300);
  await viewer.endAsync();
  return seen;
}

describe('a no-store pause and retained device state [PAUSE-3]', () => {
  it('delivers a paused device\'s retained publish live but does not keep it, keeps a safety alarm, and keeps retained state again after resume', async () => {
    const dataDir = tmpDir();
    const run = (args: string[]) => cli(args, { dataDir });
    const ok = (args: string[]) => {
      const r = run(args);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const json = <T>(args: string[]): T => JSON.parse(ok([...args, '--json'])) as T;
    const pw = { thermo: addDevice(dataDir, 'thermo', 'thermostat'), smoke: addDevice(dataDir, 'smoke', 'smoke-co-alarm'), home: addDevice(dataDir, 'home', '', ['--role', 'household']) };
    const gw = await startGateway({ dataDir });
    running.push(gw);
    const thermo = await connectClient(gw.port, { username: 'thermo', password: pw.thermo, clientId: 'thermo-c' });
    const smoke = await connectClient(gw.port, { username: 'smoke', password: pw.smoke, clientId: 'smoke-c' });
    const latest = () => json<{ latest: Array<{ metric: string; value: unknown }> }>(['devices', 'show', 'thermo']).latest.filter((l) => l.metric === 'temperature').map((l) => l.value);

    // Before the pause: retained state is kept as ever.
    await thermo.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 19 }), { qos: 1, retain: true });
    expect(await retainedOn(gw.port, pw.home, 'sluice/thermo/telemetry')).toEqual(['{"temperature":19}']);

    const pause = json<{ id: number }>(['pause', '--device', 'thermo', '--mode', 'no-store', '--for', '1h']);
    const pauseSmoke = json<{ id: number }>(['pause', '--device', 'smoke', '--mode', 'no-store', '--for', '1h']);

    // During the pause a live subscriber still hears the device; nothing is kept for the next one.
    const live = await connectClient(gw.port, { username: 'home', password: pw.home, clientId: 'live' });
    const heard: string[] = [];
    live.on('message', (_t, p, packet) => {
      if (!packet.retain) heard.push(p.toString());
    });
    await live.subscribeAsync('sluice/thermo/telemetry', { qos: 1 });
    await sleep(200);
    await thermo.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 25 }), { qos: 1, retain: true });
    for (let i = 0; i < 50 && heard.length === 0; i++) await sleep(50);
    expect(heard).toEqual(['{"temperature":25}']);
    await live.endAsync();
    // The paused value is not kept; the state from before the pause stays: a pause records nothing new, it erases nothing old.
    expect(await retainedOn(gw.port, pw.home, 'sluice/thermo/telemetry')).toEqual(['{"temperature":19}']);
    // The dashboard's latest values (devices.show, re-read on each commit by the live page) never see the paused value.
    expect(latest()).toEqual([19]);

    // A safety alarm is never muted: stored and retained through the pause.
    await smoke.publishAsync('sluice/smoke/telemetry', JSON.stringify({ smoke: true, battery: 80 }), { qos: 1, retain: true });
    expect(await retainedOn(gw.port, pw.home, 'sluice/smoke/telemetry')).toEqual(['{"smoke":true,"battery":80}']);

    // After resume, retained state is kept again.
    ok(['pause', 'resume', String(pause.id)]);
    ok(['pause', 'resume', String(pauseSmoke.id)]);
    await thermo.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21 }), { qos: 1, retain: true });
    expect(await retainedOn(gw.port, pw.home, 'sluice/thermo/telemetry')).toEqual(['{"temperature":21}']);
    expect(latest()).toEqual([21]);
    for (const c of [thermo, smoke] as MqttClient[]) await c.endAsync();
  }, 180_000);
});
