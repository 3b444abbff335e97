import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminSocketServer, callAdmin, isSluiceError, silentLogger } from '../../../src/core/index.js';
import { appFixture } from './fixture.js';

const refusal = (p: Promise<unknown>) => p.then(
  () => { throw new Error('expected a refusal'); },
  (err: unknown) => err,
);

describe('application operations', () => {
  it('a bad param is SLUICE_ERR_USAGE with a message naming the param', async () => {
    const f = await appFixture();
    try {
      const call = f.app.call as (op: string, params?: unknown) => Promise<unknown>;
      const cases: Array<[string, unknown, RegExp]> = [
        ['devices.show', {}, /^device id is required$/],
        ['devices.show', { id: '' }, /^device id is required$/],
        ['devices.show', { id: 7 }, /^device id is required$/],
        ['devices.add', { id: 't1', role: 'admin' }, /^--role must be one of device, bridge, household; got "admin"$/],
        ['devices.add', { id: 't1', profile: 3 }, /^profile must be text$/],
        ['readings', { id: 't1', limit: 'many' }, /^limit must be a number$/],
        ['policy.explain', {}, /^a policy NAME is required$/],
        ['rollups', { id: 't1' }, /^rollups needs a device id and --metric$/],
        ['db.maintain', { job: 'store.vacuum' }, /^no maintenance job "store.vacuum"$/],
        ['erase', { all: 'yes' }, /^--all must be true or false$/],
        ['devices.list', 'not an object', /^admin params must be a JSON object$/],
        ['test.max_page_count', { pages: 1 }, /^unknown admin operation "test.max_page_count"$/],
      ];
      for (const [op, params, message] of cases) {
        const err = await refusal(call(op, params));
        expect(isSluiceError(err, 'SLUICE_ERR_USAGE'), `${op} ${JSON.stringify(params)}: ${String(err)}`).toBe(true);
        expect((err as Error).message, op).toMatch(message);
      }
    } finally {
      f.context.close();
    }
  });

  it('the same operation answers the same in process and through the admin socket', async () => {
    const f = await appFixture();
    const path = join(f.dir, 'a.sock');
    const server = new AdminSocketServer({ path, operations: f.app.handlers, logger: silentLogger() });
    await server.start();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await callAdmin(path, 'devices.add', { id: 't2', profile: 'thermostat', simulated: true });
      const inProcess = await f.app.call('devices.list');
      expect(inProcess.map((d) => [d.id, d.simulated])).toEqual([['t1', false], ['t2', true]]);
      expect(await callAdmin(path, 'devices.list')).toEqual(JSON.parse(JSON.stringify(inProcess)));
      expect(await callAdmin(path, 'devices.show', { id: 't1' })).toEqual(JSON.parse(JSON.stringify(await f.app.call('devices.show', { id: 't1' }))));
      expect(await callAdmin(path, 'policy.list')).toEqual(await f.app.call('policy.list'));
      expect(await callAdmin(path, 'status')).toEqual(await f.app.call('status'));
      // Errors keep their codes and messages through the socket.
      const viaSocket = await refusal(callAdmin(path, 'devices.show', { id: 'nope' }));
      const inProc = await refusal(f.app.call('devices.show', { id: 'nope' }));
      expect(isSluiceError(viaSocket, 'SLUICE_ERR_DEVICE_UNKNOWN')).toBe(true);
      expect((viaSocket as Error).message).toBe((inProc as Error).message);
      const bad = await refusal(callAdmin(path, 'devices.show', {}));
      expect(isSluiceError(bad, 'SLUICE_ERR_USAGE') && bad.message).toBe('device id is required');
    } finally {
      await server.stop();
      f.context.close();
    }
  });

  it('an approval through the app is what the one Sharing sees: no second book', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      const approved = await f.app.call('policy.approve', { name: 'acme' });
      expect(f.sharing.book.standing('acme')).toMatchObject({ inForce: true, approved: { hash: approved.version } });
      await f.app.call('policy.revoke', { name: 'acme' });
      expect(f.sharing.book.standing('acme')).toMatchObject({ inForce: false, reason: 'revoked' });
      const err = await refusal(f.app.call('policy.run', { name: 'acme' }));
      expect(isSluiceError(err, 'SLUICE_ERR_POLICY_NOT_APPROVED') && err.message).toBe('policy acme was revoked; nothing is produced or sent');
    } finally {
      f.context.close();
    }
  });

  it('running an expired policy is refused and its expiry goes on the ledger once', async () => {
    const f = await appFixture();
    try {
      await f.app.call('devices.add', { id: 't1', profile: 'thermostat' });
      await f.app.call('policy.approve', { name: 'acme' });
      f.clock.set(Date.parse('2027-01-02T00:00:00Z'));
      const kinds = async () => (await f.app.call('ledger.show')).map((r) => r.kind);
      expect(await kinds()).toEqual(['policy.approved', 'consent.recorded']);
      for (let i = 0; i < 2; i++) {
        const err = await refusal(f.app.call('policy.run', { name: 'acme' }));
        expect(isSluiceError(err, 'SLUICE_ERR_POLICY_NOT_APPROVED') && err.message).toBe('policy acme has expired; nothing is produced or sent');
      }
      expect(await kinds()).toEqual(['policy.approved', 'consent.recorded', 'policy.expired', 'consent.recorded']);
    } finally {
      f.context.close();
    }
  });
});
