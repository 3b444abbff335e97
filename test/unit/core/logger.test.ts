import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/index.js';

function sink(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('[PRIV-3] censors secrets and payloads wherever a careless call puts them', () => {
    const { lines, stream } = sink();
    const logger = createLogger({ destination: stream });
    logger.info({ password: 'hunter2', payload: '{"temperature":21}', device: { secret: 's3', value: 21.5 }, deviceId: 'thermo' }, 'hello');
    expect(lines[0]).toMatchObject({ msg: 'hello', deviceId: 'thermo', password: '[redacted]', payload: '[redacted]', device: { secret: '[redacted]', value: '[redacted]' } });
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|temperature|s3|21\.5/);
  });
});
