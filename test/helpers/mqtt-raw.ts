import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';
import mqttPacket from 'mqtt-packet';

/** Opens a plain TCP connection from a chosen loopback address; resolves once connected. */
export function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves when the socket is closed (by either side), or false after the timeout. */
export function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.closed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export function connectPacket(options: { clientId: string; username?: string; password?: string; clean?: boolean; keepalive?: number }): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: options.clean ?? true,
    clientId: options.clientId,
    keepalive: options.keepalive ?? 60,
    ...(options.username ? { username: options.username } : {}),
    ...(options.password ? { password: Buffer.from(options.password) } : {}),
  });
}

export function publishPacket(topic: string, payload: Buffer | string, qos: 0 | 1 = 0, messageId = 1, retain = false): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic, payload, qos, retain, dup: false, ...(qos ? { messageId } : {}) });
}

export function subscribePacket(topic: string, messageId = 1, qos: 0 | 1 = 0): Buffer {
  return mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] });
}

/** Peak resident set size of a process in bytes (VmHWM from /proc/<pid>/status). */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

/** An MQTT.js 3.1.1 client whose TCP connection comes from `localAddress` (another "host" on loopback). */
export function connectFrom(port: number, localAddress: string, options: IClientOptions = {}, before?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = new MqttClient(() => connect({ host: '127.0.0.1', port, localAddress }), {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  before?.(client); // e.g. a message listener that must see what arrives right after CONNACK
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}
