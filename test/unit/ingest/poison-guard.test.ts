import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, silentLogger } from '../../../src/core/index.js';
import { allMigrations } from '../../../src/app/index.js';
import { CAREFUL_AFTER_UNCLEAN_START_MS, PoisonGuard, type InFlight } from '../../../src/ingest/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

async function setup() {
  const dir = tmpDir();
  const db = await openDatabase({ path: join(dir, 'p.db'), migrations: allMigrations, logger: silentLogger() });
  const file = join(dir, 'inflight.json');
  const guards: PoisonGuard[] = [];
  const guard = () => {
    const g = new PoisonGuard({ file, db });
    guards.push(g);
    return g;
  };
  const content = () => readFileSync(file, 'utf8').trim();
  const done = () => {
    for (const g of guards) g.close();
    db.close();
  };
  return { guard, content, done, file };
}

let digests = 0;
const message = (receivedAt: number, text = '{"temperature": 21}'): InFlight => ({
  deviceId: 'd',
  clientId: 'c',
  topic: 'sluice/d/telemetry',
  payload: Buffer.from(text),
  digest: () => `digest-of-${text}-${++digests}`,
  receivedAt,
});

describe('poison guard', () => {
  it('after a clean stop, holds the message in memory: no write per message and no digest', async () => {
    const s = await setup();
    const first = s.guard();
    expect(first.open(0)).toBeUndefined();
    first.close();
    expect(s.content()).toBe('');

    const g = s.guard();
    expect(g.open(1000)).toBeUndefined();
    expect(g.careful(1000)).toBe(false);
    const before = digests;
    g.mark(message(1000));
    expect(s.content()).toBe('{"running":true}');
    g.clear();
    expect(digests).toBe(before);
    s.done();
  });

  it('writes the message under interpretation when the process exits (the exit hook) and names it at the next start', async () => {
    const s = await setup();
    const g = s.guard();
    g.open(0);
    g.mark(message(5, '{"x": "boom"}'));
    g.writeInFlight(); // what process.on('exit') runs
    expect(JSON.parse(s.content())).toMatchObject({ deviceId: 'd', topic: 'sluice/d/telemetry', head: Buffer.from('{"x": "boom"}').toString('base64') });
    const next = s.guard();
    const found = next.open(10);
    expect(found).toMatchObject({ deviceId: 'd', clientId: 'c', bytes: 13 });
    expect(next.isPoison(found!.digest)).toBe(true);
    s.done();
  });

  it('writes nothing at exit when no message is under interpretation', async () => {
    const s = await setup();
    const g = s.guard();
    g.open(0);
    g.mark(message(5));
    g.clear();
    g.writeInFlight();
    expect(s.content()).toBe('{"running":true}');
    s.done();
  });

  it('after an unannounced death (the running state left in the file) writes every marker before interpretation for an hour', async () => {
    const s = await setup();
    const killed = s.guard();
    killed.open(0);
    // SIGKILL: neither close() nor the exit hook runs; the file still says running.
    const g = s.guard();
    expect(g.open(1000)).toBeUndefined();
    expect(g.careful(1000)).toBe(true);
    g.mark(message(2000, '{"x": "native abort"}'));
    // Already in the file: a native abort right now would leave it for the next start.
    expect(JSON.parse(s.content())).toMatchObject({ head: Buffer.from('{"x": "native abort"}').toString('base64') });
    g.clear();
    expect(s.content()).toBe('{"running":true}');

    const later = 1000 + CAREFUL_AFTER_UNCLEAN_START_MS;
    expect(g.careful(later)).toBe(false);
    g.mark(message(later));
    expect(s.content()).toBe('{"running":true}');
    g.clear();
    s.done();
  });

  it('a torn marker names nothing but counts as an unclean stop', async () => {
    const s = await setup();
    const g = s.guard();
    g.open(0);
    g.close();
    writeFileSync(s.file, '{"deviceId":"d","topic":"sluice/d/te');
    const next = s.guard();
    expect(next.open(10)).toBeUndefined();
    expect(next.careful(10)).toBe(true);
    s.done();
  });
});
