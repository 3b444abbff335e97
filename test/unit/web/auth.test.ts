import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/index.js';
import { AttemptLimiter, LoginLinks, Sessions } from '../../../src/web/index.js';
import { escapeHtml, html } from '../../../src/web/html.js';

describe('login links', () => {
  it('work once and only within their lifetime', () => {
    const clock = new ManualClock(1_000_000);
    const links = new LoginLinks({ clock, ttl: 600_000 });
    const a = links.mint();
    const b = links.mint();
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(links.consume(a)).toBe(true);
    expect(links.consume(a)).toBe(false);
    clock.advance(600_000);
    expect(links.consume(b)).toBe(false);
    expect(links.consume('made-up')).toBe(false);
  });

  it("a member's link opens a session that acts as that member, once", () => {
    const clock = new ManualClock(0);
    const links = new LoginLinks({ clock, ttl: 600_000 });
    const ana = links.mint('Ana');
    const household = links.mint();
    expect(links.redeem(ana)).toEqual({ member: 'Ana' });
    expect(links.redeem(ana)).toBeNull();
    expect(links.redeem(household)).toEqual({ member: null });
    const sessions = new Sessions({ clock, ttl: 1000 });
    expect(sessions.get(sessions.create('Ana').id)?.member).toBe('Ana');
    expect(sessions.get(sessions.create().id)?.member).toBeNull();
  });
});

describe('sessions', () => {
  it('expire after their ttl and can be ended', () => {
    const clock = new ManualClock(0);
    const sessions = new Sessions({ clock, ttl: 1000 });
    const s = sessions.create();
    expect(sessions.get(s.id)?.csrf).toBe(s.csrf);
    clock.advance(999);
    expect(sessions.get(s.id)).not.toBeNull();
    clock.advance(1);
    expect(sessions.get(s.id)).toBeNull();
    const t = sessions.create();
    sessions.end(t.id);
    expect(sessions.get(t.id)).toBeNull();
    expect(sessions.get(undefined)).toBeNull();
  });
});

describe('login attempt limiter', () => {
  it('allows perMinute attempts per address in a sliding minute', () => {
    const clock = new ManualClock(0);
    const limiter = new AttemptLimiter({ clock, perMinute: 3 });
    expect([1, 2, 3, 4].map(() => limiter.allow('127.0.0.2'))).toEqual([true, true, true, false]);
    expect(limiter.allow('127.0.0.3')).toBe(true);
    clock.advance(60_001);
    expect(limiter.allow('127.0.0.2')).toBe(true);
  });
});

describe('html', () => {
  it('escapes every interpolated value', () => {
    const name = '<script>alert("x")</script>';
    expect(html`<p>${name}</p>`.text).toBe('<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>');
    expect(html`<a title="${"' onmouseover='x"}">`.text).not.toContain("'");
    expect(escapeHtml('&')).toBe('&amp;');
  });
});
