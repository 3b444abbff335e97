import type { AddressInfo, Server } from 'node:net';
import { SluiceError } from '../core/index.js';

/** Binds a server, turning EADDRINUSE and friends into errors a household can act on. */
export function listen(server: Server, host: string, port: number, what: string, flag: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new SluiceError('SLUICE_ERR_PORT_IN_USE', `${what} port ${port} on ${host} is already in use; stop the program using it or choose another port with ${flag}`, { host, port }));
      } else {
        reject(new SluiceError('SLUICE_ERR_LISTEN', `${what} cannot listen on ${host}:${port}: ${err.message}`, { host, port }));
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
