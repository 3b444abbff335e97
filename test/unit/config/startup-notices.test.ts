import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig, logStartupNotices } from '../../../src/config/index.js';
import { createLogger } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

function sink() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('start-up notices', () => {
  it('warns, naming the directory and the fix, when the devices directory is missing', () => {
    const cwd = tmpDir();
    const { lines, logger } = sink();
    logStartupNotices(logger, loadConfig({ cwd, env: {} }), { profiles: 0, mqttPort: 1883 });
    const warn = lines.find((l) => l.level === 40);
    expect(warn?.devicesDir).toBe(join(cwd, 'devices'));
    expect(warn?.msg).toContain(`no device profiles loaded from ${join(cwd, 'devices')} (it does not exist)`);
    expect(warn?.msg).toContain('SLUICE_DEVICES_DIR');
  });

  it('warns when the devices directory holds no profile, and is quiet when profiles loaded', () => {
    const cwd = tmpDir();
    mkdirSync(join(cwd, 'devices'));
    const config = loadConfig({ cwd, env: {} });
    const empty = sink();
    logStartupNotices(empty.logger, config, { profiles: 0, mqttPort: 1883 });
    expect(empty.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringContaining('(it holds no *.yaml profile)')]);
    const loaded = sink();
    logStartupNotices(loaded.logger, config, { profiles: 3, mqttPort: 1883 });
    expect(loaded.lines.filter((l) => l.level === 40)).toEqual([]);
  });

  it('says when MQTT listens on all interfaces and how to bind loopback only', () => {
    const all = sink();
    logStartupNotices(all.logger, loadConfig({ cwd: tmpDir(), env: {} }), { profiles: 1, mqttPort: 41883 });
    expect(all.lines.map((l) => l.msg)).toEqual([
      'MQTT listening on 0.0.0.0:41883 (all interfaces; set mqtt.host: 127.0.0.1 or --mqtt-host 127.0.0.1 to bind loopback only)',
    ]);
    const loopback = sink();
    logStartupNotices(loopback.logger, loadConfig({ cwd: tmpDir(), env: { SLUICE_MQTT_HOST: '127.0.0.1' } }), { profiles: 1, mqttPort: 1883 });
    expect(loopback.lines.map((l) => l.msg)).toEqual(['MQTT listening on 127.0.0.1:1883']);
  });
});
