import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { envKeys, loadConfig, parseYaml } from '../../../src/config/index.js';
import { isSluiceError } from '../../../src/core/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isSluiceError(err)) return err.message;
    throw err;
  }
  throw new Error('expected an error');
}

describe('config', () => {
  it('has a default for every key', () => {
    const dir = tmpDir();
    const config = loadConfig({ cwd: dir, env: {} });
    expect(config.mqtt.port).toBe(1883);
    expect(config.data_dir).toBe(join(dir, 'data'));
    expect(config.ingest.batch_interval).toBe(20);
    expect(config.ingest.max_future).toBe(300_000);
    expect(Object.isFrozen(config.mqtt)).toBe(true);
  });

  it('takes flag over env over file over default', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'sluice.yaml'), 'mqtt:\n  port: 1000\n  host: 127.0.0.1\ningest:\n  batch_interval: 50ms\n');
    const fileOnly = loadConfig({ cwd: dir, env: {} });
    expect(fileOnly.mqtt).toEqual({ port: 1000, host: '127.0.0.1' });
    expect(fileOnly.ingest.batch_interval).toBe(50);
    const withEnv = loadConfig({ cwd: dir, env: { SLUICE_MQTT_PORT: '2000' } });
    expect(withEnv.mqtt.port).toBe(2000);
    const withFlag = loadConfig({ cwd: dir, env: { SLUICE_MQTT_PORT: '2000' }, flags: { 'mqtt.port': 3000 } });
    expect(withFlag.mqtt.port).toBe(3000);
  });

  it('a flag path through __proto__ is an unknown key, not a change to every object', () => {
    const dir = tmpDir();
    expect(() => loadConfig({ cwd: dir, env: {}, flags: { '__proto__.polluted': 1 } })).toThrow(/__proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('resolves paths in the file relative to the file', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'custom.yaml'), 'data_dir: ./state\n');
    const config = loadConfig({ cwd: '/', file: join(dir, 'custom.yaml'), env: {} });
    expect(config.data_dir).toBe(join(dir, 'state'));
  });

  it('resolves devices_dir written in a file elsewhere next to that file', () => {
    const dir = tmpDir();
    const cwd = tmpDir();
    writeFileSync(join(dir, 'sluice.yaml'), 'devices_dir: ./devs\n');
    const config = loadConfig({ cwd, file: join(dir, 'sluice.yaml'), env: {} });
    expect(config.devices_dir).toBe(join(dir, 'devs'));
    expect(config.data_dir).toBe(join(cwd, 'data'));
    expect(config.policies_dir).toBe(join(cwd, 'policies'));
  });

  it('keeps the defaults relative to the working directory when a file elsewhere sets only mqtt', () => {
    const dir = tmpDir();
    const cwd = tmpDir();
    writeFileSync(join(dir, 'gateway.yaml'), 'mqtt:\n  port: 1884\n');
    for (const options of [{ file: join(dir, 'gateway.yaml'), env: {} }, { env: { SLUICE_CONFIG: join(dir, 'gateway.yaml') } }]) {
      const config = loadConfig({ cwd, ...options });
      expect(config.mqtt.port).toBe(1884);
      expect([config.data_dir, config.devices_dir, config.policies_dir]).toEqual([join(cwd, 'data'), join(cwd, 'devices'), join(cwd, 'policies')]);
    }
  });

  it('resolves paths from the environment and flags against the working directory, not the file', () => {
    const dir = tmpDir();
    const cwd = tmpDir();
    writeFileSync(join(dir, 'sluice.yaml'), 'data_dir: ./state\n');
    const config = loadConfig({ cwd, file: join(dir, 'sluice.yaml'), env: { SLUICE_DEVICES_DIR: 'devs' }, flags: { data_dir: 'mine' } });
    expect(config.devices_dir).toBe(join(cwd, 'devs'));
    expect(config.data_dir).toBe(join(cwd, 'mine'));
  });

  it('names the environment variable of each key', () => {
    const names = envKeys().map(([name]) => name);
    expect(names).toContain('SLUICE_MQTT_PORT');
    expect(names).toContain('SLUICE_DATA_DIR');
    expect(names).toContain('SLUICE_INGEST_BATCH_INTERVAL');
    expect(new Set(names).size).toBe(names.length);
  });

  it('reports a bad environment value by its variable', () => {
    expect(errorOf(() => loadConfig({ cwd: tmpDir(), env: { SLUICE_MQTT_PORT: 'seventy' } }))).toMatch(/env SLUICE_MQTT_PORT mqtt\.port/);
  });

  it('lists every problem of a file at once with file:line:col and the line', () => {
    const dir = tmpDir();
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, ['version: 1', 'mqtt:', '  port: "eighty"', '  hots: 127.0.0.1', 'ingest:', '  batch_interval: 1 minute', 'log:', '  level: loud', ''].join('\n'));
    const message = errorOf(() => loadConfig({ cwd: dir, env: {} }));
    expect(message.replaceAll(`${dir}/`, '')).toMatchInlineSnapshot(`
      "sluice.yaml: 4 problems
      sluice.yaml:3:9 SLUICE_ERR_CONFIG_INVALID mqtt.port: expected number, got "eighty"
          port: "eighty"
                ^
      sluice.yaml:4:3 SLUICE_ERR_CONFIG_INVALID mqtt.hots: unknown key "hots"; did you mean "host"?
          hots: 127.0.0.1
          ^
      sluice.yaml:6:19 SLUICE_ERR_CONFIG_INVALID ingest.batch_interval: expected a duration such as 20ms, 30s, 5m, 1h, 7d, got "1 minute"
          batch_interval: 1 minute
                          ^
      sluice.yaml:8:10 SLUICE_ERR_CONFIG_INVALID log.level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"
          level: loud
                 ^"
    `);
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    const schema = z.object({ a: z.number() }).strict();
    const message = errorOf(() => parseYaml('a: 1\na: 2\n', 'x.yaml', schema, 'SLUICE_ERR_CONFIG_INVALID'));
    expect(message).toMatch(/^x\.yaml: 1 problem\nx\.yaml:2:1 SLUICE_ERR_CONFIG_INVALID Map keys must be unique/);
  });

  it('points at the parent when a required key is missing', () => {
    const schema = z.object({ vendor: z.string(), share: z.array(z.object({ window: z.string() }).strict()) }).strict();
    const message = errorOf(() => parseYaml('vendor: acme\nshare:\n  - {}\n', 'p.yaml', schema, 'SLUICE_ERR_CONFIG_INVALID'));
    expect(message).toContain('p.yaml:3:5 SLUICE_ERR_CONFIG_INVALID share[0].window: required string is missing');
  });
});
