import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { addDevice, startGateway, type GatewayChild } from '../helpers/gateway.js';
import { tmpDir } from '../helpers/tmp-dir.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A self-signed certificate for localhost/127.0.0.1, generated now (never committed). */
function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

function portOf(gw: GatewayChild, listener: string): number {
  const line = gw.logs.find((l) => l.listener === listener && typeof l.port === 'number');
  if (!line) throw new Error(`no ${listener} listener in the logs`);
  return line.port as number;
}

/** The CN of the certificate a TLS listener presents now. */
function presentedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.destroy();
    });
    s.on('error', reject);
  });
}

describe.skipIf(!hasOpenssl && process.env.CI !== 'true')('TLS and WebSocket listeners', () => {
  it('serves mqtts and ws, and reloads the certificate on SIGHUP', async () => {
    const dataDir = tmpDir();
    const certDir = tmpDir();
    const first = makeCertificate(certDir, 'first');
    const password = addDevice(dataDir, 'thermo');
    const env = {
      SLUICE_BROKER_TLS_ENABLED: 'true',
      SLUICE_BROKER_TLS_HOST: '127.0.0.1',
      SLUICE_BROKER_TLS_PORT: '0',
      SLUICE_BROKER_TLS_CERT_FILE: first.cert,
      SLUICE_BROKER_TLS_KEY_FILE: first.key,
      SLUICE_BROKER_WEBSOCKET_ENABLED: 'true',
      SLUICE_BROKER_WEBSOCKET_HOST: '127.0.0.1',
      SLUICE_BROKER_WEBSOCKET_PORT: '0',
    };
    const gw = await startGateway({ dataDir, env });
    try {
      const mqttsPort = portOf(gw, 'mqtts');
      const wsPort = portOf(gw, 'ws');
      const auth = { username: 'thermo', password, protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5000 };
      const overTls = await mqtt.connectAsync(`mqtts://127.0.0.1:${mqttsPort}`, { ...auth, clientId: 'tls', ca: readFileSync(first.cert) });
      await overTls.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
      await overTls.endAsync();
      const overWs = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, { ...auth, clientId: 'ws' });
      await overWs.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 21.6 }), { qos: 1 });
      await overWs.endAsync();

      // A renewed certificate is picked up on SIGHUP without a restart.
      expect(await presentedCn(mqttsPort)).toBe('first');
      const second = makeCertificate(certDir, 'second');
      execFileSync('cp', [second.cert, first.cert]);
      execFileSync('cp', [second.key, first.key]);
      gw.child.kill('SIGHUP');
      await gw.waitForLog((l) => l.msg === 'TLS certificate reloaded');
      expect(await presentedCn(mqttsPort)).toBe('second');
      expect(gw.child.exitCode).toBeNull();
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('runs TLS and wss only, with plain TCP turned off', async () => {
    const dataDir = tmpDir();
    const { cert, key } = makeCertificate(tmpDir(), 'only');
    const password = addDevice(dataDir, 'thermo');
    const gw = await startGateway({
      dataDir,
      env: {
        SLUICE_BROKER_TCP: 'false',
        SLUICE_BROKER_TLS_ENABLED: 'true',
        SLUICE_BROKER_TLS_HOST: '127.0.0.1',
        SLUICE_BROKER_TLS_PORT: '0',
        SLUICE_BROKER_TLS_CERT_FILE: cert,
        SLUICE_BROKER_TLS_KEY_FILE: key,
        SLUICE_BROKER_WEBSOCKET_ENABLED: 'true',
        SLUICE_BROKER_WEBSOCKET_TLS: 'true',
        SLUICE_BROKER_WEBSOCKET_HOST: '127.0.0.1',
        SLUICE_BROKER_WEBSOCKET_PORT: '0',
      },
      readyLog: 'mqtts listening',
    });
    try {
      expect(gw.logs.some((l) => l.msg === 'mqtt listening')).toBe(false);
      const wss = await mqtt.connectAsync(`wss://127.0.0.1:${portOf(gw, 'wss')}/mqtt`, { username: 'thermo', password, clientId: 'wss', protocolVersion: 4, reconnectPeriod: 0, ca: readFileSync(cert) });
      await wss.publishAsync('sluice/thermo/telemetry', JSON.stringify({ temperature: 22 }), { qos: 1 });
      await wss.endAsync();
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });
});
