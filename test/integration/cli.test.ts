import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, DEVICES_DIR, addDevice, cli, connectClient, startGateway } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

describe('sluice CLI', () => {
  it('manages devices without a running gateway', () => {
    const dataDir = tmpDir();
    const added = cli(['devices', 'add', 'living-thermostat', '--profile', 'thermostat', '--json'], { dataDir });
    expect(added.status).toBe(0);
    const creds = JSON.parse(added.stdout) as Record<string, string>;
    expect(Object.keys(creds)).toEqual(['id', 'username', 'password', 'role']);
    expect(creds).toMatchObject({ id: 'living-thermostat', username: 'living-thermostat', role: 'device' });
    expect(creds.password).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const list = cli(['devices', 'list'], { dataDir });
    expect(list.stdout).toMatch(/living-thermostat\s+device\s+thermostat/);
    expect(cli(['devices', 'show', 'living-thermostat'], { dataDir }).stdout).toContain('No readings yet.');

    const again = cli(['devices', 'add', 'living-thermostat', '--profile', 'thermostat'], { dataDir });
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('SLUICE_ERR_DEVICE_EXISTS');

    const passwd = JSON.parse(cli(['devices', 'passwd', 'living-thermostat', '--json'], { dataDir }).stdout) as Record<string, string>;
    expect(passwd.password).not.toBe(creds.password);
    expect(cli(['devices', 'remove', 'living-thermostat'], { dataDir }).status).toBe(0);
    expect(JSON.parse(cli(['devices', 'list', '--json'], { dataDir }).stdout)).toEqual([]);
  });

  it('exits 2 with a clear message on bad input', () => {
    const dataDir = tmpDir();
    const cases: Array<[string[], RegExp]> = [
      [['devices', 'add', 'Bad/Id', '--profile', 'thermostat'], /SLUICE_ERR_DEVICE_ID_INVALID/],
      [['devices', 'add', 'x', '--profile', 'toaster'], /SLUICE_ERR_PROFILE_UNKNOWN .*known profiles: .*thermostat/],
      [['devices', 'add', 'x'], /needs --profile/],
      [['devices', 'add', 'x', '--profile', 'thermostat', '--role', 'admin'], /--role must be one of device, bridge, household/],
      [['readings'], /expected 1 argument/],
      [['devices', 'show', 'ghost'], /SLUICE_ERR_DEVICE_UNKNOWN/],
      [['devices', 'list', '--colour'], /SLUICE_ERR_USAGE .*--colour/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['start', '--mqtt-port', 'x'], /--mqtt-port must be a port number/],
    ];
    for (const [args, expected] of cases) {
      const r = cli(args, { dataDir });
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(expected);
    }
  });

  it('prints help for every command', () => {
    const top = cli(['--help']);
    expect(top.status).toBe(0);
    for (const c of ['start', 'devices add', 'devices list', 'readings', 'quarantine']) expect(top.stdout).toContain(`  ${c}`);
    // Piped, so not a terminal: wrapped to 80 columns.
    expect(top.stdout.split('\n').filter((l) => l.length > 80)).toEqual([]);
    const sub = cli(['readings', '--help']);
    expect(sub.status).toBe(0);
    expect(sub.stdout).toContain('Usage: sluice readings ID [--metric M] [--since 1h|ISO] [--json]');
  });

  it('reports config errors with file:line:col and exits 2', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'sluice.yaml'), 'mqtt:\n  port: 99999\n');
    const r = cli(['devices', 'list'], { cwd: dir, dataDir: join(dir, 'data') });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('sluice.yaml:2:9 SLUICE_ERR_CONFIG_INVALID mqtt.port:');
    expect(r.stderr).toContain('  port: 99999');
  });

  it('goes through the admin socket while a gateway runs, and a second gateway is refused', async () => {
    const dataDir = tmpDir();
    const gw = await startGateway({ dataDir });
    try {
      const password = JSON.parse(cli(['devices', 'add', 'plug', '--profile', 'thermostat', '--json'], { dataDir }).stdout).password as string;
      // The running gateway knows the new device at once: it can connect and publish.
      const client = await connectClient(gw.port, { username: 'plug', password });
      await client.publishAsync('sluice/plug/telemetry', JSON.stringify({ temperature: 19 }), { qos: 1 });
      await client.endAsync();
      const status = JSON.parse(cli(['status', '--json'], { dataDir }).stdout) as Record<string, unknown>;
      expect(status).toMatchObject({ running: true, mqtt_port: gw.port, devices: 1, store: 'ok' });
      const rows = JSON.parse(cli(['readings', 'plug', '--json'], { dataDir }).stdout) as Array<{ value: number; time_source: string }>;
      expect(rows.map((r) => [r.value, r.time_source])).toEqual([[19, 'gateway']]);

      const second = cli(['start', '--mqtt-port', '0'], { dataDir, env: { SLUICE_MQTT_HOST: '127.0.0.1' } });
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`SLUICE_ERR_DATA_DIR_LOCKED data directory ${dataDir} is in use by a running gateway (pid ${gw.child.pid}`);
      // A removed device loses its rights at once, mid-connection included.
      expect(cli(['devices', 'remove', 'plug'], { dataDir }).status).toBe(0);
      await expect(connectClient(gw.port, { username: 'plug', password })).rejects.toThrow(/Bad username or password/i);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
    expect(JSON.parse(cli(['status', '--json'], { dataDir }).stdout)).toMatchObject({ running: false });
  });

  it('says the MQTT port is in use and suggests --mqtt-port', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = cli(['start', '--mqtt-port', String(port)], { dataDir: tmpDir(), env: { SLUICE_MQTT_HOST: '127.0.0.1' } });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`SLUICE_ERR_PORT_IN_USE MQTT port ${port} on 127.0.0.1 is already in use`);
      expect(r.stderr).toContain('--mqtt-port');
    } finally {
      blocker.close();
    }
  });

  it('flushes the last batch on SIGTERM and exits 0', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    // A long batch interval: only the shutdown flush can commit the QoS 0 reading in time.
    const gw = await startGateway({ dataDir, env: { SLUICE_INGEST_BATCH_INTERVAL: '10s' } });
    const client = await connectClient(gw.port, { username: 'thermo', password });
    await client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 23.25 }), { qos: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(await gw.stop()).toBe(0);
    client.end(true);
    const rows = JSON.parse(cli(['readings', 'thermo', '--json'], { dataDir }).stdout) as Array<{ value: number }>;
    expect(rows.map((r) => r.value)).toEqual([23.25]);
  });

  it('prints long output completely when piped to another program', async () => {
    const dataDir = tmpDir();
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({ dataDir, env: { SLUICE_BROKER_LIMITS_PUBLISH_RATE: '10000', SLUICE_BROKER_LIMITS_PUBLISH_BURST: '10000' } });
    const t0 = Date.now() - 3_600_000;
    const client = await connectClient(gw.port, { username: 'thermo', password });
    const acks: Array<Promise<unknown>> = [];
    for (let i = 0; i < 400; i++) {
      acks.push(client.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 20, humidity: 40, setpoint_heat: 21, heating: true, ts: t0 + i * 1000 }), { qos: 1 }));
    }
    await Promise.all(acks);
    await client.endAsync();
    await gw.stop();
    // 1600 readings are well over a pipe's 64 KiB buffer, and the reader starts late.
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" readings thermo --since 2h --json --data "${dataDir}" | (sleep 1; cat)`], {
      encoding: 'utf8',
      env: { ...process.env, SLUICE_DEVICES_DIR: DEVICES_DIR },
    });
    expect(r.stdout.length).toBeGreaterThan(100_000);
    expect(JSON.parse(r.stdout)).toHaveLength(1600);
  });
});
