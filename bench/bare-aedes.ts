/**
 * The baseline broker: bare aedes 1.2 over TCP with noDelay, no authentication, no storage, no
 * subscribers. Run as a child; prints the same `mqtt listening` JSON line as the gateway.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const aedes = new Aedes();
await aedes.listen();
const server = createServer({ noDelay: true }, (socket) => aedes.handle(socket));
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'mqtt listening', port })}\n`);
});
const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
