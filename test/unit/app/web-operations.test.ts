import { afterEach, describe, expect, it } from 'vitest';
import { isSluiceError } from '../../../src/core/index.js';
import { appFixture } from './fixture.js';

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

async function fixture() {
  const f = await appFixture();
  closers.push(() => f.context.close());
  return f;
}

const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isSluiceError(e) ? e.code : String(e)));

describe('dashboard operations', () => {
  it('web.login_link needs the running gateway', async () => {
    const { app } = await fixture();
    expect(await codeOf(app.call('web.login_link'))).toBe('SLUICE_ERR_GATEWAY_NOT_RUNNING');
  });

  it('devices.sharing says what each policy takes of a device, and presence is unknown without a gateway', async () => {
    const { app } = await fixture();
    await app.call('devices.add', { id: 'living', profile: 'thermostat' });
    const sharing = await app.call('devices.sharing');
    expect(sharing.living).toEqual([{ policy: 'acme', vendor: 'acme-heating', in_force: false, what: 'temperature as a daily mean' }]);
    expect((await app.call('devices.presence')).living).toBe('unknown');
  });

  it('sharing.vendors lists each vendor with nothing sent before approval', async () => {
    const { app } = await fixture();
    const [v] = await app.call('sharing.vendors', {});
    expect(v).toMatchObject({ vendor: 'acme-heating', policies: ['acme'], in_force: false, summaries_sent: 0, bytes_sent: 0, last_sent: null, next_send: null });
  });

  it('readings.series checks its range and the device', async () => {
    const { app } = await fixture();
    await app.call('devices.add', { id: 'living', profile: 'thermostat' });
    expect(await codeOf(app.call('readings.series', { id: 'living', metric: 'temperature', range: '1y' }))).toBe('SLUICE_ERR_USAGE');
    expect(await codeOf(app.call('readings.series', { id: 'nobody', metric: 'temperature' }))).toBe('SLUICE_ERR_DEVICE_UNKNOWN');
    expect(await app.call('readings.series', { id: 'living', metric: 'temperature', range: '7d' })).toEqual({
      device: 'living',
      metric: 'temperature',
      unit: null,
      range: '7d',
      ts: [],
      values: [],
      rolled_up_before: null,
    });
  });

  it('policy.overlay names the metric and statistic the vendor receives', async () => {
    const { app } = await fixture();
    await app.call('devices.add', { id: 'living', profile: 'thermostat' });
    const o = await app.call('policy.overlay', { name: 'acme' });
    expect(o).toMatchObject({ metric: 'temperature', stat: 'mean', raw: { ts: [], values: [] } });
  });
});
