#!/usr/bin/env node
// Container health: healthy only while a gateway runs on the data directory and its store takes
// writes. `sluice status --json` exits 0 even when no gateway runs (it then opens the database
// itself and answers "running": false), so neither its exit code alone nor calling it blindly
// will do: a stopped gateway would look healthy, and the check would create and lock the
// database the gateway is about to open. So: is the lock a live gateway's? Then ask it.
// Later: once the dashboard serves /healthz on 127.0.0.1:8420, an HTTP GET of that is the check.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** @param {string} path */
const dist = (path) => new URL(`../dist/src/${path}`, import.meta.url).href;
const bin = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));

/** @param {string} why @returns {never} */
function unhealthy(why) {
  console.log(`unhealthy: ${why}`);
  process.exit(1);
}

// The same settings the gateway and the CLI read (SLUICE_CONFIG, SLUICE_* variables, defaults).
const [{ loadConfig }, { lockHolder }] = await Promise.all([import(dist('config/index.js')), import(dist('core/index.js'))]);
/** @type {{ data_dir: string }} */
let config;
try {
  config = loadConfig();
} catch (err) {
  unhealthy(err instanceof Error ? err.message : String(err));
}
if (lockHolder(config.data_dir)?.kind !== 'gateway') unhealthy('no gateway runs on the data directory');

const r = spawnSync(process.execPath, [bin, 'status', '--json'], { encoding: 'utf8', timeout: 8000 });
/** @type {{ running?: unknown, store?: unknown, mqtt_port?: unknown }} */
let status = {};
try {
  status = JSON.parse(r.stdout);
} catch {
  unhealthy(`sluice status failed (exit ${r.status}): ${(r.stderr || r.error?.message || '').trim()}`);
}
if (status.running !== true) unhealthy('no gateway runs on the data directory');
if (status.store !== 'ok') unhealthy(`store ${String(status.store)}`);
console.log(`healthy: gateway running, mqtt port ${String(status.mqtt_port)}`);
