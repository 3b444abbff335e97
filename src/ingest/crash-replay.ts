import type { Logger } from '../core/index.js';
import type { PoisonGuard } from './poison-guard.js';
import type { ReadingSink } from './sink.js';

/**
 * Opens the poison guard's marker and, when the previous process died interpreting a message,
 * commits that message to the quarantine (reason ingest_crashed) before the broker starts.
 */
export async function replayCrash(deps: { poison: PoisonGuard; sink: ReadingSink; logger: Logger; now: number }): Promise<void> {
  const crashed = deps.poison.open(deps.now);
  if (!crashed) return;
  // [PRIV-3] names the topic, never the payload.
  deps.logger.error({ deviceId: crashed.deviceId, topic: crashed.topic }, 'the previous run died while interpreting this message; quarantined instead of retried');
  await deps.sink.submit({
    deviceId: crashed.deviceId,
    readings: [],
    specs: {},
    quarantine: {
      deviceId: crashed.deviceId,
      clientId: crashed.clientId,
      topic: crashed.topic,
      reason: 'ingest_crashed',
      message: `the gateway stopped while interpreting this message (${crashed.bytes} bytes); it was quarantined at restart instead of being retried`,
      payload: Buffer.from(crashed.head, 'base64'),
      receivedAt: crashed.receivedAt,
    },
  });
}
