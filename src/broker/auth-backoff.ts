export interface AuthBackoffOptions {
  /** Failures allowed before attempts are refused without checking the password. */
  freeFailures: number;
  /** First refusal period (ms); doubles with each further failure. */
  baseDelay: number;
  /** Longest refusal period (ms). */
  maxDelay: number;
  /** Most (address, username) pairs remembered; the oldest is forgotten first. */
  maxEntries: number;
}

interface Entry {
  failures: number;
  blockedUntil: number;
}

/**
 * Exponential backoff after bad credentials, keyed by (remote address, username): a device
 * with a wrong password, or a brute force against one username, does not lock out the other
 * devices of the house, nor the same username from another address.
 */
export class AuthBackoff {
  // Map keeps insertion order, which makes it a cheap LRU.
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: AuthBackoffOptions) {}

  /** ms the caller must still wait before credentials are checked (0 = check now). */
  blockedFor(address: string, username: string, now: number): number {
    const entry = this.entries.get(key(address, username));
    return entry ? Math.max(0, entry.blockedUntil - now) : 0;
  }

  failed(address: string, username: string, now: number): void {
    const k = key(address, username);
    const entry = this.entries.get(k) ?? { failures: 0, blockedUntil: 0 };
    this.entries.delete(k);
    entry.failures++;
    const over = entry.failures - this.options.freeFailures;
    if (over > 0) entry.blockedUntil = now + Math.min(this.options.maxDelay, this.options.baseDelay * 2 ** Math.min(over - 1, 30));
    this.entries.set(k, entry);
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  succeeded(address: string, username: string): void {
    this.entries.delete(key(address, username));
  }

  get size(): number {
    return this.entries.size;
  }
}

function key(address: string, username: string): string {
  return `${address}\u0000${username}`;
}
