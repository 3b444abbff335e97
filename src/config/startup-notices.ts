import { existsSync } from 'node:fs';
import type { Logger } from '../core/index.js';
import type { SluiceConfig } from './schema.js';

/** What the gateway found at start that the household should read in its first screen of logs. */
export interface StartupFacts {
  /** Device profiles loaded from devices_dir. */
  profiles: number;
  /** The port the MQTT TCP listener took (it differs from mqtt.port when that is 0). */
  mqttPort: number;
}

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '[::]']);

/**
 * Logs the start-up lines a new user needs: where MQTT listens (and how to keep it to this
 * machine), and a warning when no device profile was found, since no device can be added then.
 */
export function logStartupNotices(logger: Logger, config: Readonly<SluiceConfig>, facts: StartupFacts): void {
  if (config.broker.mode === 'external') {
    // The url may carry user info; only scheme, host and port are logged.
    const u = new URL(config.broker.external.url);
    logger.info({ broker: `${u.protocol}//${u.host}`, note: 'no MQTT listener here; the external broker authenticates the devices' }, 'external broker mode');
  } else if (config.broker.tcp) {
    const { host } = config.mqtt;
    const where = `${host.includes(':') ? `[${host}]` : host}:${facts.mqttPort}`;
    // Devices on the LAN need the default; a household that has none should know it can close it.
    const note = ALL_INTERFACES.has(host) ? ' (all interfaces; set mqtt.host: 127.0.0.1 or --mqtt-host 127.0.0.1 to bind loopback only)' : '';
    logger.info({ host, port: facts.mqttPort }, `MQTT listening on ${where}${note}`);
  }
  if (facts.profiles === 0) {
    const dir = config.devices_dir;
    const why = existsSync(dir) ? 'it holds no *.yaml profile' : 'it does not exist';
    logger.warn(
      { devicesDir: dir },
      `no device profiles loaded from ${dir} (${why}), so no device can be added: set devices_dir in sluice.yaml (relative to that file) or SLUICE_DEVICES_DIR to the folder of profiles, e.g. the devices/ folder shipped with Sluice`,
    );
  }
}
