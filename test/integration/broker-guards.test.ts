import { describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

interface BrokerStatus {
  retained_messages: number;
  retained_bytes: number;
  limits_hit: Record<string, number>;
}

function brokerStatus(dataDir: string): BrokerStatus {
  const r = cli(['status', '--json'], { dataDir });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { broker: BrokerStatus }).broker;
}

function collect(client: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

async function until(pred: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('broker guards', () => {
  it('counts retained messages kept from before a restart, in status and against the cap', async () => {
    const dataDir = tmpDir();
    const env = { SLUICE_BROKER_LIMITS_MAX_RETAINED_MESSAGES: '11', SLUICE_LOG_LEVEL: 'info' };
    // The household's commands are the retained topics a tool may keep (device namespaces are the devices').
    const homePw = addDevice(dataDir, 'home', '', ['--role', 'household']);
    let gw = await startGateway({ dataDir, env });
    let home = await connectClient(gw.port, { username: 'home', password: homePw });
    for (let i = 0; i < 11; i++) await home.publishAsync(`sluice/room${i}/cmd/scene`, `scene ${i}`, { qos: 1, retain: true });
    await home.endAsync();
    expect(brokerStatus(dataDir).retained_messages).toBe(11);
    await gw.stop();

    gw = await startGateway({ dataDir, env });
    const after = brokerStatus(dataDir);
    expect(after.retained_messages).toBe(11);
    expect(after.retained_bytes).toBe([...Array(11).keys()].reduce((sum, i) => sum + `scene ${i}`.length, 0));

    // A 12th topic is over the cap that the 11 from before the restart already fill.
    home = await connectClient(gw.port, { username: 'home', password: homePw });
    await home.publishAsync('sluice/room11/cmd/scene', 'scene 11', { qos: 1, retain: true });
    // Replacing one that is kept is not a new topic, so it fits.
    await home.publishAsync('sluice/room0/cmd/scene', 'scene 0b', { qos: 1, retain: true });
    const status = brokerStatus(dataDir);
    expect(status.limits_hit.retained_count).toBe(1);
    expect(status.retained_messages).toBe(11);

    const viewer = await connectClient(gw.port, { username: 'home', password: homePw, clientId: 'viewer' });
    const retained = collect(viewer);
    await viewer.subscribeAsync('sluice/+/cmd/#', { qos: 1 });
    await until(() => retained.length >= 11);
    await viewer.publishAsync('sluice/done/cmd/marker', '', { qos: 1 }); // an empty non-retained marker: everything retained came before it
    await until(() => retained.some((m) => m.topic === 'sluice/done/cmd/marker'));
    const kept = retained.filter((m) => m.retain).map((m) => m.topic);
    expect(kept).toHaveLength(11);
    expect(kept).not.toContain('sluice/room11/cmd/scene');
    expect(retained.find((m) => m.topic === 'sluice/room0/cmd/scene')?.payload).toBe('scene 0b');
    await Promise.all([home.endAsync(), viewer.endAsync()]);
    await gw.stop();
  }, 120_000);

  it('quarantines a refused status and neither retains nor delivers it', async () => {
    const dataDir = tmpDir();
    const plugPw = addDevice(dataDir, 'plug', 'smart-plug');
    const homePw = addDevice(dataDir, 'home', '', ['--role', 'household']);
    const gw = await startGateway({ dataDir, env: { SLUICE_LOG_LEVEL: 'info' } });
    const live = await connectClient(gw.port, { username: 'home', password: homePw, clientId: 'live' });
    const liveGot = collect(live);
    await live.subscribeAsync('sluice/plug/status', { qos: 1 });

    const plug = await connectClient(gw.port, { username: 'plug', password: plugPw, clientId: 'plug' });
    await plug.publishAsync('sluice/plug/status', 'online', { qos: 1, retain: true });
    await plug.publishAsync('sluice/plug/status', 'up', { qos: 1, retain: true }); // acknowledged
    await gw.waitForLog((l) => l.msg === 'device message quarantined (further ones from this device are not logged for a minute)' && l.reason === 'wrong_type');
    expect(plug.connected).toBe(true);

    const late = await connectClient(gw.port, { username: 'home', password: homePw, clientId: 'late' });
    const lateGot = collect(late);
    await late.subscribeAsync('sluice/plug/status', { qos: 1 });
    await until(() => lateGot.length >= 1);
    expect(lateGot).toEqual([{ topic: 'sluice/plug/status', payload: 'online', retain: true }]);

    // A valid status after it: the live subscriber saw the two valid ones and nothing between.
    await plug.publishAsync('sluice/plug/status', 'offline', { qos: 1, retain: true });
    await until(() => liveGot.some((m) => m.payload === 'offline'));
    expect(liveGot.map((m) => m.payload)).toEqual(['online', 'offline']);

    const quarantine = cli(['quarantine', '--json'], { dataDir });
    expect(quarantine.status, quarantine.stderr).toBe(0);
    expect((JSON.parse(quarantine.stdout) as Array<{ topic: string; reason: string }>).map((q) => [q.topic, q.reason])).toEqual([['sluice/plug/status', 'wrong_type']]);
    await Promise.all([plug.endAsync(), live.endAsync(), late.endAsync()]);
    await gw.stop();
  }, 60_000);
});
