import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { announceListening, lanWarning, readinessProblems, type ReadinessFacts } from '../../../src/web/index.js';

/** A pino logger writing JSON lines into an array. */
function memoryLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

describe('binding the dashboard beyond this machine', () => {
  it('warns for a LAN or wildcard address without TLS, not for loopback or with TLS', () => {
    for (const host of ['0.0.0.0', '192.168.1.20', '::', 'sluice.local']) expect([host, lanWarning(host, false)]).toEqual([host, expect.stringContaining('without TLS')]);
    for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1']) expect([host, lanWarning(host, false)]).toEqual([host, null]);
    expect(lanWarning('192.168.1.20', true)).toBeNull();
  });

  it('logs the listening line and, for a LAN host without TLS, a warning naming the host and the fix', () => {
    const lan = memoryLogger();
    announceListening(lan.logger, { host: '192.168.1.20', port: 8420, url: 'http://192.168.1.20:8420', tls: false });
    expect(lan.lines.map((l) => l.level)).toEqual([30, 40]);
    expect(lan.lines[0]!.msg).toBe('dashboard listening on http://192.168.1.20:8420 (log in with: sluice web login)');
    expect(lan.lines[1]!.host).toBe('192.168.1.20');
    expect(lan.lines[1]!.msg).toMatch(/^the dashboard listens on 192\.168\.1\.20 without TLS: .*web\.tls\.cert_file and web\.tls\.key_file, or web\.host: 127\.0\.0\.1$/);

    const tls = memoryLogger();
    announceListening(tls.logger, { host: '192.168.1.20', port: 8420, url: 'https://192.168.1.20:8420', tls: true });
    const local = memoryLogger();
    announceListening(local.logger, { host: '127.0.0.1', port: 8420, url: 'http://127.0.0.1:8420', tls: false });
    expect([tls.lines.length, local.lines.length]).toEqual([1, 1]);
  });
});

describe('readiness', () => {
  const ready: ReadinessFacts = { brokerExpected: true, mqttPort: 1883, store: 'ok', storeFault: null, freeDiskBytes: 10 * 2 ** 30 };
  const MIN = 64 * 2 ** 20;

  it('is ready with a listening broker, a sound store and disk to spare', () => {
    expect(readinessProblems(ready, MIN)).toEqual([]);
  });

  it('names every fault at once', () => {
    expect(readinessProblems({ brokerExpected: true, mqttPort: null, store: 'faulted (SQLITE_FULL): acknowledgements held', storeFault: 'database or disk is full', freeDiskBytes: 1000 }, MIN)).toEqual([
      'broker not listening',
      'store fault: database or disk is full',
      `disk low: 1000 bytes free, below ${MIN}`,
    ]);
  });

  it('does not ask for a listener where none is expected, and an unknown free space is not low', () => {
    expect(readinessProblems({ ...ready, brokerExpected: false, mqttPort: null, freeDiskBytes: null }, MIN)).toEqual([]);
    expect(readinessProblems({ ...ready, freeDiskBytes: MIN }, MIN)).toEqual([]);
    expect(readinessProblems({ ...ready, freeDiskBytes: MIN - 1 }, MIN)).toHaveLength(1);
  });
});
