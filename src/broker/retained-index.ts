/** Why a retained message is not kept, named as the limit it hit. */
export type RetainedRefusal = 'retained_count' | 'retained_bytes';

/**
 * The one count of retained messages (topic → payload bytes). The session store owns it and
 * updates it as it stores or clears a retained message, filling it from disk at setup, so the
 * caps and `sluice status` see what is retained across restarts.
 */
export class RetainedIndex {
  private readonly topics = new Map<string, number>();
  private total = 0;

  get count(): number {
    return this.topics.size;
  }

  /** Payload bytes of all retained messages. */
  get bytes(): number {
    return this.total;
  }

  /** Payload bytes retained on `topic`, undefined when none. */
  bytesOf(topic: string): number | undefined {
    return this.topics.get(topic);
  }

  /** The cap a non-empty retained message of `bytes` on `topic` would exceed, or undefined when it fits. */
  refusal(topic: string, bytes: number, caps: { maxMessages: number; maxBytes: number }): RetainedRefusal | undefined {
    const before = this.topics.get(topic);
    if (before === undefined && this.topics.size >= caps.maxMessages) return 'retained_count';
    if (this.total - (before ?? 0) + bytes > caps.maxBytes) return 'retained_bytes';
    return undefined;
  }

  /** Records what the store now keeps on `topic`; 0 bytes clears it [MQTT-3.3.1-10]. */
  set(topic: string, bytes: number): void {
    this.total -= this.topics.get(topic) ?? 0;
    if (bytes === 0) {
      this.topics.delete(topic);
      return;
    }
    this.topics.set(topic, bytes);
    this.total += bytes;
  }
}
