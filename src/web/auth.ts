import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/index.js';

const token = () => randomBytes(32).toString('base64url');

/** One-time login tokens, held only in the gateway's memory: single use, expiring. */
export class LoginLinks {
  private readonly tokens = new Map<string, { expires: number; member: string | null }>();
  constructor(private readonly deps: { clock: Clock; ttl: number }) {}

  /** A new token; valid for `ttl` ms or until used once. With a member, the session it opens acts as that member. */
  mint(member: string | null = null): string {
    this.prune();
    const t = token();
    this.tokens.set(t, { expires: this.deps.clock.now() + this.deps.ttl, member });
    return t;
  }

  /** True once for a valid token; the token is gone afterwards either way. */
  consume(t: string): boolean {
    return this.redeem(t) !== null;
  }

  /** Once for a valid token: whom the session acts as (null: the household); the token is gone afterwards either way. */
  redeem(t: string): { member: string | null } | null {
    const entry = this.tokens.get(t);
    this.tokens.delete(t);
    return entry !== undefined && this.deps.clock.now() < entry.expires ? { member: entry.member } : null;
  }

  private prune(): void {
    const now = this.deps.clock.now();
    for (const [t, entry] of this.tokens) if (entry.expires <= now) this.tokens.delete(t);
  }
}

export interface Session {
  id: string;
  csrf: string;
  expiresAt: number;
  /** The household member this session acts as (`sluice web login --as NAME`); null: the household. */
  member: string | null;
}

/** Dashboard sessions by cookie value; they expire `ttl` ms after login. */
export class Sessions {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly deps: { clock: Clock; ttl: number }) {}

  create(member: string | null = null): Session {
    const now = this.deps.clock.now();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
    const s: Session = { id: token(), csrf: token(), expiresAt: now + this.deps.ttl, member };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.deps.clock.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }
}

/** Compares two secrets in constant time. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Login attempts per client address in a sliding minute, so a password cannot be guessed quickly. */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();
  constructor(private readonly deps: { clock: Clock; perMinute: number }) {}

  /** Records an attempt; false when the address is over its budget. */
  allow(address: string): boolean {
    const now = this.deps.clock.now();
    const recent = (this.attempts.get(address) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= this.deps.perMinute) {
      this.attempts.set(address, recent);
      return false;
    }
    recent.push(now);
    this.attempts.set(address, recent);
    if (this.attempts.size > 10_000) this.attempts.clear(); // bounded memory under a flood of addresses
    return true;
  }
}
