import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** A bare MQTT 3.1.1 connection that sends hand-made packets: for DUP flags, fixed packet ids and malformed input. */
export class RawMqtt {
  readonly received: Packet[] = [];
  private readonly waiters: Array<{ pred: (p: Packet) => boolean; resolve: (p: Packet) => void }> = [];
  closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      this.received.push(p);
      for (const w of [...this.waiters]) {
        if (w.pred(p)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(p);
        }
      }
    });
    socket.on('data', (d) => parser.parse(d));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<RawMqtt> {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawMqtt(socket);
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet));
  }

  waitFor(pred: (p: Packet) => boolean, timeoutMs = 5000): Promise<Packet> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a packet')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  sendBytes(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async connect(clientId: string, username?: string, password?: string, clean = true): Promise<Packet> {
    // mqtt-packet will not build an empty ClientId with CleanSession=0 (the spec forbids it), so
    // such a CONNECT is built clean and its CleanSession bit cleared by hand.
    const patchClean = clientId === '' && !clean;
    const bytes = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: patchClean ? true : clean,
      clientId,
      keepalive: 30,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password: Buffer.from(password) } : {}),
    });
    if (patchClean) {
      let i = 1;
      while ((bytes[i]! & 0x80) !== 0) i++; // remaining-length varint
      const flags = i + 1 + 6 + 1; // protocol name (2+4 bytes), level (1)
      bytes[flags] = bytes[flags]! & ~0x02;
    }
    this.sendBytes(bytes);
    return this.waitFor((p) => p.cmd === 'connack');
  }

  close(): void {
    this.socket.destroy();
  }
}
