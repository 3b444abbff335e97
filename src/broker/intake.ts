import type { Clock, EventBus, Logger } from '../core/index.js';
import type { DeviceProfile, DeviceRecord } from '../devices/index.js';
import { interpretMessage, type IngestLimits, type IngestOutcome } from '../ingest/index.js';
import { payloadDigest, type ReadingWriter, type WriteRequest } from '../store/index.js';
import type { PoisonGuard } from './poison-guard.js';

export interface IncomingPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  messageId?: number | undefined;
}

/** What became of a message: `refused` when ingest quarantined it whole (the broker then neither retains nor delivers it). */
export type IntakeVerdict = 'accepted' | 'refused';

// Repeated bad input from one device is logged at most this often (ms).
const BAD_INPUT_LOG_INTERVAL = 60_000;

/**
 * The broker side of ingest: runs the pure interpreter on a device's message and hands the
 * result to the writer. The returned promise settles when the readings (or the quarantine
 * entry) are committed, which is when the broker may acknowledge.
 */
export class TelemetryIntake {
  /** Last gateway-assigned ms per device, so two clock-less messages never share a timestamp. */
  private readonly lastGatewayTs = new Map<string, number>();
  private readonly lastBadInputLog = new Map<string, number>();

  constructor(
    private readonly deps: {
      writer: ReadingWriter;
      profiles: () => ReadonlyMap<string, DeviceProfile>;
      clock: Clock;
      logger: Logger;
      events: EventBus;
      limits: IngestLimits;
      poison?: PoisonGuard;
      /** TEST-ONLY (env SLUICE_TEST_POISON): a payload containing this text kills the process mid-ingest. */
      testPoison?: string | undefined;
    },
  ) {}

  /** Handles a publish under the device's own namespace `sluice/<id>/…`. */
  async fromDevice(device: DeviceRecord, clientId: string, packet: IncomingPublish): Promise<IntakeVerdict> {
    return this.ingest(device, clientId, packet, packet.topic.slice(`sluice/${device.id}/`.length), false);
  }

  /**
   * Handles a publish under a bridge's base topic: a message of a device registered behind the
   * bridge (`--via`, `--source`) is interpreted with that device's profile; anything else the
   * bridge says (its own state, devices the household has not registered) is acknowledged and
   * not kept.
   */
  async fromBridge(bridge: DeviceRecord, clientId: string, packet: IncomingPublish, behind: { record: DeviceRecord; subtopic: string } | undefined): Promise<IntakeVerdict> {
    if (!behind) {
      this.deps.logger.trace({ bridgeId: bridge.id, topic: packet.topic }, 'bridge message for no registered device; not kept');
      return 'accepted';
    }
    return this.ingest(behind.record, clientId, packet, behind.subtopic, true);
  }

  private async ingest(device: DeviceRecord, clientId: string, packet: IncomingPublish, subtopic: string, viaBridge: boolean): Promise<IntakeVerdict> {
    const receivedAt = this.deps.clock.now();
    const profile = device.profile ? this.deps.profiles().get(device.profile) : undefined;
    const outcome = this.interpret(device, clientId, packet, { subtopic, viaBridge, receivedAt, profile });
    if (outcome === 'poison') return 'refused';
    if (outcome.kind === 'ignored') return 'accepted';

    if (outcome.kind === 'status') {
      this.deps.events.emit('device.status', { deviceId: device.id, online: outcome.online });
      return 'accepted';
    }

    const request: WriteRequest = { deviceId: device.id, readings: [], specs: profile?.metrics ?? {} };
    if (outcome.kind === 'readings') {
      request.readings = outcome.readings;
      if (outcome.timeSource === 'gateway') {
        const ts = this.gatewayTimestamp(device.id, clientId, packet, receivedAt, request);
        for (const r of outcome.readings) r.ts = ts;
      }
    }
    if (outcome.kind === 'rejected' || outcome.refused.length > 0) {
      const reason = outcome.kind === 'rejected' ? outcome.reason : outcome.refused[0]!.reason;
      const message =
        outcome.kind === 'rejected'
          ? outcome.message
          : `${outcome.readings.length} reading(s) stored; refused ${outcome.refused.map((r) => `${r.metric}: ${r.message}`).join('; ')}`;
      request.quarantine = { deviceId: device.id, clientId, topic: packet.topic, reason, message, refused: outcome.refused ?? [], payload: packet.payload, receivedAt };
      this.logBadInput(device.id, packet.topic, reason, (outcome.refused ?? []).map((r) => r.metric), receivedAt);
      this.deps.events.emit('message.quarantined', { deviceId: device.id, topic: packet.topic, reason });
    }
    const verdict = outcome.kind === 'rejected' ? 'refused' : 'accepted';
    const committed = this.deps.writer.submit(request);
    if (packet.qos === 0) {
      // QoS 0 promises nothing to the device, so it does not wait for the commit.
      committed.catch((err: unknown) => this.deps.logger.error({ err, deviceId: device.id }, 'QoS 0 readings could not be written'));
      return verdict;
    }
    await committed;
    return verdict;
  }

  /** Runs the pure interpreter between the poison guard's mark and clear. */
  private interpret(
    device: DeviceRecord,
    clientId: string,
    packet: IncomingPublish,
    at: { subtopic: string; viaBridge: boolean; receivedAt: number; profile: DeviceProfile | undefined },
  ): IngestOutcome | 'poison' {
    const { poison } = this.deps;
    const digest = poison?.digest(packet.topic, packet.payload);
    if (poison && digest) {
      if (poison.isPoison(digest)) {
        // Its first delivery crashed the gateway and sits in the quarantine; do not try again.
        this.deps.logger.warn({ deviceId: device.id, topic: packet.topic }, 'redelivery of a message that crashed ingest; acknowledged without interpreting it');
        return 'poison';
      }
      poison.mark({ deviceId: device.id, clientId, topic: packet.topic, payload: packet.payload, digest, receivedAt: at.receivedAt });
    }
    let outcome: IngestOutcome;
    try {
      // TEST-ONLY: SLUICE_TEST_POISON stands in for a fault ingest cannot catch (stack overflow, abort).
      if (this.deps.testPoison && packet.payload.includes(this.deps.testPoison)) process.exit(70);
      outcome = interpretMessage({ deviceId: device.id, subtopic: at.subtopic, topic: packet.topic, payload: packet.payload, receivedAt: at.receivedAt, profile: at.profile, limits: this.deps.limits, viaBridge: at.viaBridge });
    } catch (err) {
      // A bug in the interpreter must not cost the device its connection nor the gateway its life.
      this.deps.logger.error({ err, deviceId: device.id, topic: packet.topic }, 'ingest failed on a message; quarantined');
      outcome = { kind: 'rejected', reason: 'ingest_crashed', message: `ingest failed: ${(err as Error).message}` };
    }
    poison?.clear();
    return outcome;
  }

  /**
   * The time for a message the device did not stamp: the receive time, made unique per device,
   * or — for a QoS 1 redelivery (DUP, same packet id and payload) — the time given the first time.
   */
  private gatewayTimestamp(deviceId: string, clientId: string, packet: IncomingPublish, receivedAt: number, request: WriteRequest): number {
    const digest = packet.qos > 0 && packet.messageId !== undefined ? payloadDigest(packet.payload) : undefined;
    if (digest && packet.dup) {
      const earlier = this.deps.writer.previousDelivery(clientId, packet.messageId!, digest);
      if (earlier !== undefined) return earlier;
    }
    const ts = Math.max(receivedAt, (this.lastGatewayTs.get(deviceId) ?? 0) + 1);
    this.lastGatewayTs.set(deviceId, ts);
    if (digest) request.delivery = { clientId, packetId: packet.messageId!, payloadHash: digest, ts };
    return ts;
  }

  /** [PRIV-3] logs reason codes and metric names, never the refused values. */
  private logBadInput(deviceId: string, topic: string, reason: string, metrics: string[], now: number): void {
    const last = this.lastBadInputLog.get(deviceId);
    if (last !== undefined && now - last < BAD_INPUT_LOG_INTERVAL) return;
    this.lastBadInputLog.set(deviceId, now);
    this.deps.logger.warn({ deviceId, topic, reason, metrics }, 'device message quarantined (further ones from this device are not logged for a minute)');
  }
}
