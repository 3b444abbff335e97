import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { hashPassword } from '../../src/devices/index.js';
import { dashboardUrl, logIn, loginLink } from '../helpers/dashboard.js';
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
    const env = { SLUICE_WEB_PASSWORD_HASH: await hashPassword('our household password') };
    const run = (args: string[]) => cli(args, { dataDir, env });
    const ok = (args: string[]) => {
      const r = run(args);
      if (r.status !== 0) throw new Error(`sluice ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const json = <T>(args: string[]): T => JSON.parse(ok([...args, '--json'])) as T;
    const pw = { thermo: addDevice(dataDir, 'thermo', 'thermostat'), smoke: addDevice(dataDir, 'smoke', 'smoke-co-alarm'), home: addDevice(dataDir, 'home', '', ['--role', 'household']) };
    const gw = await startGateway({ dataDir, env, args: ['--web-port', '0'] });
    running.push(gw);
    const dashboard = await logIn(await dashboardUrl(gw), loginLink(dataDir, env));
    const latestOnPage = async () => {
      const page = await (await dashboard.get('/devices/thermo')).text();
      // The value before its time ("19 °C <span>at …"): a time may well contain 25.
      return /<dd data-metric="temperature">([^<]*?) <span/.exec(page)?.[1] ?? '';
    };
    /** The temperatures the live stream sent, without their times. */
    const sentTemperatures = () =>
      [...sent.matchAll(/^data: (.*)$/gm)].flatMap((m) => (JSON.parse(m[1]!) as Array<{ key: string; text: string }>).filter((r) => r.key === 'temperature').map((r) => r.text.split(' at ')[0]!));
    // The device page's live stream, open through the pause: every value it is sent.
    const stream = await dashboard.get('/events/devices/thermo', { accept: 'text/event-stream' });
    let sent = '';
    const reader = stream.body!.getReader();
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        sent += new TextDecoder().decode(value);
      }
    })();
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
    expect(await latestOnPage()).toMatch(/^19\b/);

    // A safety alarm is never muted: stored and retained through the pause. It is the profile's
    // metric (smoke_state) that counts, as for storing; a field the profile does not know is no alarm.
    await smoke.publishAsync('sluice/smoke/telemetry', JSON.stringify({ smoke_state: 'critical', battery: 80 }), { qos: 1, retain: true });
    expect(await retainedOn(gw.port, pw.home, 'sluice/smoke/telemetry')).toEqual(['{"smoke_state":"critical","battery":80}']);
    expect(json<{ latest: Array<{ metric: string; value: unknown }> }>(['devices', 'show', 'smoke']).latest.map((l) => [l.metric, l.value])).toEqual([['smoke_state', 'critical']]);

    // After resume, retained state is kept again.
    ok(['pause', 'resume', String(pause.id)]);
    ok(['pause', 'resume', String(pauseSmoke.id)]);
    await thermo.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21 }), { qos: 1, retain: true });
    expect(await retainedOn(gw.port, pw.home, 'sluice/thermo/telemetry')).toEqual(['{"temperature":21}']);
    expect(latest()).toEqual([21]);
    // The live stream told the page of 19 and 21, never of the paused 25.
    for (let i = 0; i < 100 && sentTemperatures().length < 2; i++) await sleep(50);
    expect(sentTemperatures().map((t) => t.split(/\s/)[0])).toEqual(['19', '21']);
    await reader.cancel();
    for (const c of [thermo, smoke] as MqttClient[]) await c.endAsync();
  }, 180_000);
});
