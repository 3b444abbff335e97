import type { SluiceConfig } from '../config/index.js';
import type { Clock, EventBus, Logger } from '../core/index.js';
import type { DeviceProfile, DeviceRecord } from '../devices/index.js';
import type { BridgeReader, BridgeResult } from './bridges.js';
import type { PoisonGuard } from './poison-guard.js';
import { DELIVERY_HASH_BYTES, messageDigest, type MessageDigest, type RedeliveryMemory } from './redelivery.js';
import type { IncomingPublish, Ingest, IntakeVerdict, ReadingSink, WriteRequest } from './sink.js';
import { interpretMessage } from './telemetry.js';
import type { IngestLimits, IngestOutcome, Reading, RefusedMetric } from './types.js';


// Repeated bad input from one device is logged at most this often (ms).
const BAD_INPUT_LOG_INTERVAL = 60_000;
// An unusable device time is noted in the quarantine at most this often per device (ms).
const TIME_NOTE_INTERVAL = 3_600_000;

export interface IntakeOptions {
  limits: IngestLimits;
}

/** The intake's options from sluice.yaml `ingest`. */
export function ingestOptionsFrom(config: Readonly<Pick<SluiceConfig, 'ingest'>>): IntakeOptions {
  const i = config.ingest;
  return { limits: { maxPayloadBytes: i.max_payload_bytes, maxFuture: i.max_future, maxPast: i.max_past } };
}

/**
 * The service side of ingest: runs the pure interpreter on a device's message and hands the
 * result to the sink. The returned promise settles when the readings (or the quarantine
 * entry) are committed, which is when the broker may acknowledge.
 */
export class TelemetryIntake implements Ingest {
  /** Last gateway-assigned ms per device, so two clock-less messages never share a timestamp. */
  private readonly lastGatewayTs = new Map<string, number>();
  private readonly lastBadInputLog = new Map<string, number>();
  private readonly lastTimeNote = new Map<string, number>();
  /** Announcement flags already put on their device (device, code, detail). */
  private readonly flagged = new Set<string>();
  private readonly digest: MessageDigest;

  constructor(
    private readonly deps: {
      sink: ReadingSink;
      profiles: () => ReadonlyMap<string, DeviceProfile>;
      clock: Clock;
      logger: Logger;
      events: EventBus;
      options: IntakeOptions;
      poison?: PoisonGuard;
      /** Absent: QoS 1 redeliveries without a device ts are not recognised. */
      redelivery?: RedeliveryMemory;
      /** The message digest (default sha256); injected by tests to count calls. */
      digest?: MessageDigest;
      /** Reads convention bridges (`--role bridge --profile zigbee2mqtt`); absent: only hand-registered devices behind bridges. */
      bridges?: BridgeReader;
      /** TEST-ONLY (env SLUICE_TEST_POISON): a payload containing this text kills the process mid-ingest. */
      testPoison?: string | undefined;
    },
  ) {
    this.digest = deps.digest ?? messageDigest;
  }

  /** Handles a publish under the device's own namespace `sluice/<id>/…`. */
  fromDevice(device: DeviceRecord, clientId: string, packet: IncomingPublish): Promise<IntakeVerdict> {
    try {
      // 'sluice/' + id + '/', without building the prefix for every message.
      return this.ingest(device, clientId, packet, packet.topic.slice(device.id.length + 8), false);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Handles a publish under a bridge's base topic: a message of a device registered behind the
   * bridge (`--via`, `--source`) is interpreted with that device's profile; anything else the
   * bridge says (its own state, devices the household has not registered) is acknowledged and
   * not kept.
   */
  async fromBridge(bridge: DeviceRecord, clientId: string, packet: IncomingPublish, behind: { record: DeviceRecord; subtopic: string } | undefined): Promise<IntakeVerdict> {
    if (this.deps.bridges?.handles(bridge)) return this.fromConvention(this.deps.bridges, bridge, clientId, packet);
    if (!behind) {
      this.deps.logger.trace({ bridgeId: bridge.id, topic: packet.topic }, 'bridge message for no registered device; not kept');
      return 'accepted';
    }
    return this.ingest(behind.record, clientId, packet, behind.subtopic, true);
  }

  /** A publish the ACL refused, kept in the quarantine under `not_your_topic` (bounded like any other entry). */
  notYourTopic(who: DeviceRecord, clientId: string, packet: IncomingPublish, allowed: string): void {
    const receivedAt = this.deps.clock.now();
    const message = `not your topic: ${packet.topic}; ${who.id} may publish under ${allowed}`;
    this.deps.events.emit('message.quarantined', { deviceId: who.id, topic: packet.topic, reason: 'not_your_topic' });
    this.deps.sink
      .submit({ deviceId: who.id, readings: [], specs: {}, quarantine: { deviceId: who.id, clientId, topic: packet.topic, reason: 'not_your_topic', message, payload: packet.payload, receivedAt } })
      .catch((err: unknown) => this.deps.logger.error({ err, deviceId: who.id }, 'a refused publish could not be noted in the quarantine'));
  }

  /** A message of a convention bridge: what it teaches goes to the registry, its readings to the sink. */
  private async fromConvention(bridges: BridgeReader, bridge: DeviceRecord, clientId: string, packet: IncomingPublish): Promise<IntakeVerdict> {
    const receivedAt = this.deps.clock.now();
    const quarantine = (deviceId: string, reason: string, message: string, refused: RefusedMetric[] = []) => {
      this.logBadInput(deviceId, packet.topic, reason, refused.map((r) => r.metric), receivedAt);
      this.deps.events.emit('message.quarantined', { deviceId, topic: packet.topic, reason });
      return { deviceId, clientId, topic: packet.topic, reason, message, refused, payload: packet.payload, receivedAt };
    };
    // A bridge's device list outgrows a device's telemetry limit (35 Zigbee devices' exposes are
    // well over 16 KiB): only the broker's packet limit bounds it; states are bounded as usual.
    if (packet.payload.length > this.deps.options.limits.maxPayloadBytes && !isAnnouncement(packet.topic)) {
      await this.commit(packet, { deviceId: bridge.id, readings: [], specs: {}, quarantine: quarantine(bridge.id, 'too_large', `payload is ${packet.payload.length} bytes; the limit is ${this.deps.options.limits.maxPayloadBytes}`) });
      return 'refused';
    }
    let result: BridgeResult;
    try {
      result = bridges.read(bridge, packet.topic, packet.payload, receivedAt, this.deps.options.limits);
    } catch (err) {
      this.deps.logger.error({ err, deviceId: bridge.id, topic: packet.topic }, 'ingest failed on a bridge message; quarantined');
      await this.commit(packet, { deviceId: bridge.id, readings: [], specs: {}, quarantine: quarantine(bridge.id, 'ingest_crashed', `ingest failed: ${(err as Error).message}`) });
      return 'refused';
    }
    for (const d of result.added) {
      this.deps.logger.info({ bridgeId: bridge.id, deviceId: d.id, kind: d.kind, source: d.source }, 'device discovered');
      this.deps.events.emit('device.changed', { deviceId: d.id, change: 'added' });
    }
    for (const f of result.flags) {
      // Flagged on the device itself (its quarantine: `quarantine --device`, the dashboard), never guessed;
      // once per flag and run, though bridges repeat their announcements.
      const seen = `${f.deviceId}\0${f.code}\0${f.detail}`;
      if (this.flagged.has(seen)) continue;
      this.flagged.add(seen);
      this.deps.logger.warn({ bridgeId: bridge.id, source: f.key, code: f.code }, `a discovered device announced something Sluice cannot read: ${f.detail}`);
      await this.commit(packet, { deviceId: f.deviceId, readings: [], specs: {}, quarantine: quarantine(f.deviceId, f.code, `announced something Sluice cannot read: ${f.detail}`) });
    }
    for (const d of result.removed) {
      this.deps.logger.info({ bridgeId: bridge.id, deviceId: d.id, source: d.source }, 'device removed by its bridge');
      this.deps.events.emit('device.changed', { deviceId: d.id, change: 'removed' });
    }
    for (const s of result.status) this.deps.events.emit('device.status', { deviceId: s.device.id, online: s.online });
    if (result.rejected) {
      await this.commit(packet, { deviceId: bridge.id, readings: [], specs: {}, quarantine: quarantine(bridge.id, result.rejected.reason, result.rejected.message) });
      return 'refused';
    }
    const writes: Promise<void>[] = [];
    let verdict: IntakeVerdict = 'accepted';
    for (const r of result.readings) {
      const profile = r.device.profile ? this.deps.profiles().get(r.device.profile) : undefined;
      const request: WriteRequest = { deviceId: r.device.id, readings: r.readings, specs: profile?.metrics ?? {} };
      if (r.needsTime && r.readings.length > 0) {
        const ts = this.gatewayTimestamp(r.device.id, clientId, packet, receivedAt, () => messageDigestOf(this.digest, packet), request);
        for (const x of r.readings) x.ts = ts;
      }
      if (r.refused.length > 0) {
        const message = r.readings.length > 0 ? `${r.readings.length} reading(s) stored; refused ${r.refused.map((x) => x.message).join('; ')}` : r.refused.map((x) => x.message).join('; ');
        request.quarantine = quarantine(r.device.id, r.refused[0]!.reason, message, r.refused);
        if (r.readings.length === 0) verdict = 'refused';
      } else if (r.timeNote !== undefined) {
        const note = this.timeNote(r.device.id, clientId, packet, r.timeNote, receivedAt);
        if (note) request.quarantine = note;
      }
      writes.push(this.commit(packet, request));
    }
    await Promise.all(writes);
    // [PAUSE-3] Held back when every device the message speaks of is paused; a device list is the bridge's own.
    if (verdict === 'accepted' && result.readings.length + result.status.length > 0 && result.added.length + result.removed.length === 0) {
      const held = result.readings.every((r) => this.kept(r.device.id, r.readings) === 'not-stored') && result.status.every((x) => this.kept(x.device.id, []) === 'not-stored');
      if (held) verdict = 'not-stored';
    }
    return verdict;
  }

  /** [PAUSE-3] `not-stored` when a no-store pause keeps nothing of a device's message (a safety alarm is always kept). */
  private kept(deviceId: string, readings: readonly Reading[]): IntakeVerdict {
    return this.deps.sink.holdsBack?.(deviceId, readings) ? 'not-stored' : 'accepted';
  }

  /** Submits a request; QoS 0 does not wait for the commit. */
  private async commit(packet: IncomingPublish, request: WriteRequest): Promise<void> {
    const { redelivery } = this.deps;
    const { delivery } = request;
    if (delivery && redelivery) redelivery.remember(delivery);
    let committed = this.deps.sink.submit(request);
    if (delivery && redelivery) committed = committed.finally(() => redelivery.settled(delivery));
    if (packet.qos === 0) {
      committed.catch((err: unknown) => this.deps.logger.error({ err, deviceId: request.deviceId }, 'QoS 0 readings could not be written'));
      return;
    }
    await committed;
  }

  /** A device time the gateway could not use is noted for its maker (once an hour per device), readings still stored. */
  private timeNote(deviceId: string, clientId: string, packet: IncomingPublish, note: string, receivedAt: number): WriteRequest['quarantine'] {
    const last = this.lastTimeNote.get(deviceId);
    if (last !== undefined && receivedAt - last < TIME_NOTE_INTERVAL) return undefined;
    this.lastTimeNote.set(deviceId, receivedAt);
    this.deps.events.emit('message.quarantined', { deviceId, topic: packet.topic, reason: 'ts_unusable' });
    return { deviceId, clientId, topic: packet.topic, reason: 'ts_unusable', message: `readings stored with the gateway's time: ${note}`, payload: packet.payload, receivedAt };
  }

  /** Not async, and with no closure per message for the verdict: the promise is the commit's, or one made once. */
  private ingest(device: DeviceRecord, clientId: string, packet: IncomingPublish, subtopic: string, viaBridge: boolean): Promise<IntakeVerdict> {
    const receivedAt = this.deps.clock.now();
    const profile = device.profile ? this.deps.profiles().get(device.profile) : undefined;
    // One digest per message, shared by the poison guard and the redelivery memory; only computed when one of them needs it.
    let digest: Buffer | undefined;
    const digestOnce = (): Buffer => (digest ??= this.digest(packet.topic, packet.payload));
    const outcome = this.interpret(device, clientId, packet, digestOnce, { subtopic, viaBridge, receivedAt, profile });
    if (outcome === 'poison') return REFUSED;
    if (outcome.kind === 'ignored') return settled(this.kept(device.id, []));

    if (outcome.kind === 'status') {
      this.deps.events.emit('device.status', { deviceId: device.id, online: outcome.online });
      return settled(this.kept(device.id, []));
    }

    const request: WriteRequest = { deviceId: device.id, readings: [], specs: profile?.metrics ?? {} };
    if (outcome.kind === 'readings') {
      request.readings = outcome.readings;
      if (outcome.timeSource === 'gateway') {
        const ts = this.gatewayTimestamp(device.id, clientId, packet, receivedAt, digestOnce, request);
        for (const r of outcome.readings) r.ts = ts;
      }
    }
    if (outcome.kind === 'readings' && outcome.refused.length === 0 && outcome.timeNote !== undefined) {
      request.quarantine = this.timeNote(device.id, clientId, packet, outcome.timeNote, receivedAt);
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
    const verdict = outcome.kind === 'rejected' ? 'refused' : this.kept(device.id, outcome.readings);
    const { delivery } = request;
    const { redelivery } = this.deps;
    if (delivery && redelivery) redelivery.remember(delivery);
    let committed = this.deps.sink.submit(request);
    if (delivery && redelivery) {
      committed = committed.finally(() => redelivery.settled(delivery));
    }
    if (packet.qos === 0) {
      // QoS 0 promises nothing to the device, so it does not wait for the commit.
      committed.catch((err: unknown) => this.deps.logger.error({ err, deviceId: device.id }, 'QoS 0 readings could not be written'));
      return settled(verdict);
    }
    return committed.then(verdict === 'refused' ? toRefused : verdict === 'not-stored' ? toNotStored : toAccepted);
  }

  /** Runs the pure interpreter between the poison guard's mark and clear. */
  private interpret(
    device: DeviceRecord,
    clientId: string,
    packet: IncomingPublish,
    digestOnce: () => Buffer,
    at: { subtopic: string; viaBridge: boolean; receivedAt: number; profile: DeviceProfile | undefined },
  ): IngestOutcome | 'poison' {
    const { poison } = this.deps;
    if (poison) {
      // The digest only when a message ever crashed ingest, or when the marker is written.
      if (poison.watching && poison.isPoison(digestOnce().toString('base64url'))) {
        // Its first delivery crashed the gateway and sits in the quarantine; do not try again.
        this.deps.logger.warn({ deviceId: device.id, topic: packet.topic }, 'redelivery of a message that crashed ingest; acknowledged without interpreting it');
        return 'poison';
      }
      poison.mark({ deviceId: device.id, clientId, topic: packet.topic, payload: packet.payload, digest: () => digestOnce().toString('base64url'), receivedAt: at.receivedAt });
    }
    let outcome: IngestOutcome;
    try {
      // TEST-ONLY: SLUICE_TEST_POISON stands in for a fault ingest cannot catch (stack overflow, abort).
      if (this.deps.testPoison && packet.payload.includes(this.deps.testPoison)) process.exit(70);
      outcome = interpretMessage({
        deviceId: device.id,
        subtopic: at.subtopic,
        topic: packet.topic,
        payload: packet.payload,
        receivedAt: at.receivedAt,
        profile: at.profile,
        limits: this.deps.options.limits,
        viaBridge: at.viaBridge,
      });
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
   * or — for a QoS 1 redelivery (DUP, same packet id and message digest) — the time given the first time.
   */
  private gatewayTimestamp(deviceId: string, clientId: string, packet: IncomingPublish, receivedAt: number, digestOnce: () => Buffer, request: WriteRequest): number {
    const { redelivery } = this.deps;
    const remembered = redelivery !== undefined && packet.qos > 0 && packet.messageId !== undefined;
    const hash = remembered ? digestOnce().subarray(0, DELIVERY_HASH_BYTES) : undefined;
    if (hash && packet.dup) {
      const earlier = redelivery!.previous(clientId, packet.messageId!, hash);
      if (earlier !== undefined) return earlier;
    }
    const ts = Math.max(receivedAt, (this.lastGatewayTs.get(deviceId) ?? 0) + 1);
    this.lastGatewayTs.set(deviceId, ts);
    if (hash) request.delivery = { clientId, packetId: packet.messageId!, payloadHash: hash, ts };
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

// Settled promises hold no state that changes; sharing them saves one per message.
const ACCEPTED: Promise<IntakeVerdict> = Promise.resolve('accepted');
const REFUSED: Promise<IntakeVerdict> = Promise.resolve('refused');
const NOT_STORED: Promise<IntakeVerdict> = Promise.resolve('not-stored');
const toAccepted = (): IntakeVerdict => 'accepted';
const toRefused = (): IntakeVerdict => 'refused';
const toNotStored = (): IntakeVerdict => 'not-stored';

function settled(verdict: IntakeVerdict): Promise<IntakeVerdict> {
  return verdict === 'refused' ? REFUSED : verdict === 'not-stored' ? NOT_STORED : ACCEPTED;
}

function messageDigestOf(digest: MessageDigest, packet: IncomingPublish): Buffer {
  return digest(packet.topic, packet.payload);
}

/** Topics that carry a bridge's device announcements rather than a device's state. */
function isAnnouncement(topic: string): boolean {
  return topic.endsWith('/bridge/devices') || topic.endsWith('/config') || topic.endsWith('/sensors') || topic.endsWith('/$description');
}
