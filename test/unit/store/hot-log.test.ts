import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeFrame, HotLog, segmentPath, tableCrc32, type HotRecord } from '../../../src/store/hot-log.js';
import { Random } from '../../../src/simulate/index.js';
import { tmpDir } from '../../helpers/tmp-dir.js';

const T0 = Date.UTC(2026, 0, 15, 12); // ms

function group(random: Random, n: number, t: number): HotRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const kind = random.next();
    const value = kind < 0.6 ? Math.round(random.between(-5000, 5000)) : kind < 0.9 ? random.between(-1e6, 1e6) : ['heat', 'off', 'ß ☃', ''][i % 4]!;
    return { seriesId: Math.floor(random.between(1, 2 ** 32)), ts: t + i, value, flags: i % 2 };
  });
}

describe('hot log', () => {
  it('replays what was appended, across segments and reopenings', () => {
    const dir = tmpDir();
    const random = new Random(7);
    const written: HotRecord[] = [];
    let { log, replay } = HotLog.open({ dir });
    expect(replay).toEqual({ records: [], deliveries: [], segments: [1], damage: [] });
    for (let g = 0; g < 20; g++) {
      const records = group(random, 1 + (g % 5), T0 + g * 10_000);
      written.push(...records);
      log.append(records);
      if (g === 9) expect(log.rotate()).toBe(1);
    }
    log.close();
    ({ log, replay } = HotLog.open({ dir }));
    expect(replay.damage).toEqual([]);
    expect(replay.segments).toEqual([1, 2]);
    expect(replay.records).toEqual(written);
    // Appends go on after the replayed tail of the last segment.
    const more = group(random, 3, T0 + 1e6);
    log.append(more);
    log.close();
    expect(HotLog.open({ dir }).replay.records).toEqual([...written, ...more]);
  });

  it('writes each group with one write(): a group is one frame, 8 header bytes + 1 + 6 (base ts) + 5 per scaled integer, 11 per REAL', () => {
    const dir = tmpDir();
    const { log } = HotLog.open({ dir });
    const bytes = log.append([
      { seriesId: 1, ts: T0, value: 2150, flags: 1 },
      { seriesId: 2, ts: T0, value: 45.5, flags: 1 },
    ]);
    // kind+flags, series id, ts − base: a byte each; 2150 as a 2-byte zigzag varint; 45.5 as an f64.
    expect(bytes).toBe(8 + 1 + 6 + (3 + 2) + (3 + 8));
    expect(statSync(segmentPath(dir, 1)).size).toBe(bytes);
    log.close();
  });

  it('keeps every complete frame and reports the torn one, for a cut at every byte of the last frame', () => {
    const dir = tmpDir();
    const random = new Random(11);
    const complete = [group(random, 3, T0), group(random, 2, T0 + 10_000)];
    const last = group(random, 4, T0 + 20_000);
    const prefix = Buffer.concat(complete.map((g) => encodeFrame(g)));
    const tail = encodeFrame(last);
    for (let cut = 0; cut < tail.length; cut++) {
      writeFileSync(segmentPath(dir, 1), Buffer.concat([prefix, tail.subarray(0, cut)]));
      const { log, replay } = HotLog.open({ dir });
      log.close();
      expect(replay.records, `cut at ${cut}`).toEqual(complete.flat());
      if (cut === 0) expect(replay.damage).toEqual([]);
      else expect(replay.damage, `cut at ${cut}`).toEqual([{ segment: 1, offset: prefix.length, discardedBytes: cut, reason: 'torn' }]);
      // The torn bytes are gone, so the next append starts on a frame boundary.
      expect(statSync(segmentPath(dir, 1)).size).toBe(prefix.length);
    }
    // And the whole frame, uncut, is read back.
    writeFileSync(segmentPath(dir, 1), Buffer.concat([prefix, tail]));
    expect(HotLog.open({ dir }).replay).toMatchObject({ records: [...complete.flat(), ...last], damage: [] });
  });

  it('stops at a frame whose checksum does not match, reports it and drops the rest of that segment', () => {
    const dir = tmpDir();
    const random = new Random(13);
    const frames = [0, 1, 2, 3].map((g) => group(random, 2, T0 + g * 10_000));
    const bytes = frames.map((g) => encodeFrame(g));
    const whole = Buffer.concat(bytes);
    const corruptAt = bytes[0]!.length + bytes[1]!.length + 8 + 5; // inside frame 2's payload
    whole[corruptAt] = whole[corruptAt]! ^ 0x40;
    writeFileSync(segmentPath(dir, 1), whole);
    writeFileSync(segmentPath(dir, 2), encodeFrame(frames[3]!));
    const { log, replay } = HotLog.open({ dir });
    log.close();
    const offset = bytes[0]!.length + bytes[1]!.length;
    expect(replay.damage).toEqual([{ segment: 1, offset, discardedBytes: whole.length - offset, reason: 'checksum' }]);
    // The later, intact segment still counts.
    expect(replay.records).toEqual([...frames[0]!, ...frames[1]!, ...frames[3]!]);
  });

  it('calls a frame with an impossible length malformed rather than waiting for 4 GiB', () => {
    const dir = tmpDir();
    const good = encodeFrame([{ seriesId: 1, ts: T0, value: 1, flags: 0 }]);
    const bad = Buffer.alloc(12, 0xff);
    writeFileSync(segmentPath(dir, 1), Buffer.concat([good, bad]));
    const { log, replay } = HotLog.open({ dir });
    log.close();
    expect(replay.damage).toEqual([{ segment: 1, offset: good.length, discardedBytes: 12, reason: 'malformed' }]);
    expect(replay.records).toHaveLength(1);
  });

  it('drops sealed segments, zero-filling them first when asked, and never the current one', () => {
    const dir = tmpDir();
    const { log } = HotLog.open({ dir });
    log.append([{ seriesId: 1, ts: T0, value: 1, flags: 0 }]);
    const first = log.rotate();
    log.append([{ seriesId: 1, ts: T0 + 1, value: 2, flags: 0 }]);
    expect(log.drop(99, { overwrite: true })).toEqual([first]);
    expect(existsSync(segmentPath(dir, first))).toBe(false);
    expect(log.segments()).toEqual([2]);
    log.close();
    expect(HotLog.open({ dir }).replay.records).toEqual([{ seriesId: 1, ts: T0 + 1, value: 2, flags: 0 }]);
  });

  it('rewrites the log without erased readings, leaving none of their bytes in any segment', () => {
    const dir = tmpDir();
    const { log } = HotLog.open({ dir });
    const secret = 'kitchen-secret-state';
    log.append([
      { seriesId: 7, ts: T0, value: secret, flags: 0 },
      { seriesId: 8, ts: T0, value: 'kept', flags: 0 },
    ]);
    log.rotate();
    log.append([{ seriesId: 7, ts: T0 + 1, value: 123.25, flags: 0 }]);
    expect(log.rewriteWithout((r) => r.seriesId === 7)).toEqual({ kept: 1, removed: 2 });
    log.close();
    for (const name of readdirSync(dir)) expect(readFileSync(join(dir, name)).includes(secret)).toBe(false);
    expect(HotLog.open({ dir }).replay.records).toEqual([{ seriesId: 8, ts: T0, value: 'kept', flags: 0 }]);
  });

  it('shares one fdatasync among the syncs that arrive while one runs', async () => {
    const dir = tmpDir();
    const { log } = HotLog.open({ dir });
    log.append([{ seriesId: 1, ts: T0, value: 1, flags: 0 }]);
    const a = log.sync();
    log.append([{ seriesId: 1, ts: T0 + 1, value: 2, flags: 0 }]);
    const b = log.sync();
    const c = log.sync();
    expect(b).toBe(c);
    expect(a).not.toBe(b);
    await Promise.all([a, b, c]);
    log.close();
  });

  it('computes the same CRC-32 as zlib with its fallback table', () => {
    const random = new Random(17);
    const crc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    for (let i = 0; i < 50; i++) {
      const data = Uint8Array.from({ length: Math.floor(random.between(0, 300)) }, () => Math.floor(random.between(0, 256)));
      if (crc) expect(tableCrc32(data)).toBe(crc(data));
    }
    expect(tableCrc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('replays a log written by an older gateway (format 1: fixed-width records) next to new frames', () => {
    const dir = tmpDir();
    const payload = Buffer.alloc(1 + 20 + 12 + 2 + 4);
    payload.writeUInt8(1, 0);
    payload.writeUInt8(1, 1); // a number
    payload.writeUInt8(1, 2); // gateway-stamped
    payload.writeUInt32LE(3_000_000_000, 3);
    payload.writeIntLE(T0, 7, 6);
    payload.writeDoubleLE(2150, 13);
    payload.writeUInt8(2, 21); // text
    payload.writeUInt8(0, 22);
    payload.writeUInt32LE(4, 23);
    payload.writeIntLE(T0 + 5, 27, 6);
    payload.writeUInt16LE(4, 33);
    payload.write('heat', 35, 'utf8');
    const header = Buffer.alloc(8);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(tableCrc32(payload), 4);
    const newer = encodeFrame([{ seriesId: 4, ts: T0 + 9, value: -7, flags: 0 }]);
    writeFileSync(segmentPath(dir, 1), Buffer.concat([header, payload, newer]));
    expect(HotLog.read({ dir })).toMatchObject({
      damage: [],
      records: [
        { seriesId: 3_000_000_000, ts: T0, value: 2150, flags: 1 },
        { seriesId: 4, ts: T0 + 5, value: 'heat', flags: 0 },
        { seriesId: 4, ts: T0 + 9, value: -7, flags: 0 },
      ],
    });
  });

  it('truncating the file to a frame boundary is a clean log, not damage', () => {
    const dir = tmpDir();
    const a = encodeFrame([{ seriesId: 1, ts: T0, value: 1, flags: 0 }]);
    writeFileSync(segmentPath(dir, 1), Buffer.concat([a, a]));
    truncateSync(segmentPath(dir, 1), a.length);
    expect(HotLog.open({ dir }).replay).toMatchObject({ damage: [], records: [{ seriesId: 1, ts: T0, value: 1, flags: 0 }] });
  });
});
