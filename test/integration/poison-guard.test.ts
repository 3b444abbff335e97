import { describe, expect, it } from 'vitest';
import { addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

// SLUICE_TEST_POISON is a test-only trigger: a payload containing it kills the gateway mid-ingest,
// standing in for a fault no try/catch can stop (stack overflow, native abort).
const env = { SLUICE_TEST_POISON: 'POISON-PILL' };

describe('poison-message guard', () => {
  it('a message that kills ingest is quarantined at restart, its redelivery is not interpreted again, and the gateway keeps serving', async () => {
    const dataDir = tmpDir();
    let gw = await startGateway({ dataDir, env });
    const password = addDevice(dataDir, 'p-thermo', 'thermostat');
    let client = await connectClient(gw.port, { username: 'p-thermo', password, clientId: 'p-thermo' });
    await client.publishAsync('sluice/p-thermo/telemetry', '{"temperature": 20.5}', { qos: 1 });
    const poison = '{"temperature": 21, "note": "POISON-PILL"}';
    client.publish('sluice/p-thermo/telemetry', poison, { qos: 1 });
    expect(await gw.exited).toBe(70);
    client.end(true);

    // Restarted with the trigger still armed: interpreting the message again would kill it again.
    gw = await startGateway({ dataDir, env });
    await gw.waitForLog((l) => l.msg === 'the previous run died while interpreting this message; quarantined instead of retried');
    client = await connectClient(gw.port, { username: 'p-thermo', password, clientId: 'p-thermo' });
    // The device redelivers the unacknowledged message, as a QoS 1 sender does after reconnecting.
    await client.publishAsync('sluice/p-thermo/telemetry', poison, { qos: 1, dup: true });
    await client.publishAsync('sluice/p-thermo/telemetry', '{"temperature": 22.5}', { qos: 1 });
    expect(gw.child.exitCode).toBeNull();

    const q = JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout) as Array<{ reason: string; topic: string; payload_head: string; device: string }>;
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ reason: 'ingest_crashed', topic: 'sluice/p-thermo/telemetry', device: 'p-thermo', payload_head: poison });
    const readings = JSON.parse(cli(['readings', 'p-thermo', '--json'], { dataDir }).stdout) as Array<{ value: number }>;
    expect(readings.map((r) => r.value)).toEqual([20.5, 22.5]);
    await client.endAsync();

    // A third start finds no marker: nothing new is quarantined.
    expect(await gw.stop()).toBe(0);
    gw = await startGateway({ dataDir, env });
    expect((JSON.parse(cli(['quarantine', '--json'], { dataDir }).stdout) as unknown[]).length).toBe(1);
    await gw.stop();
  });
});
