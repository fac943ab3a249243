// A TCP proxy in front of the daemon whose live connections can be cut (both
// sides destroyed: a crash the peers see) or frozen (nothing forwarded any
// more, sockets left open: a vanished machine or a partition, which neither
// peer sees). New connections after either are forwarded normally.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  port: number;
  readonly connections: number;
  cut(): void;
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const frozen = new Set<[Socket, Socket]>();
  const server: Server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const drop = () => {
      // a frozen pair forwards nothing, not even a close: the other peer must not learn of it
      if (frozen.has(pair)) return;
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const destroyAll = () => {
    for (const [down, up] of [...pairs]) {
      down.destroy();
      up.destroy();
    }
  };
  return {
    port,
    get connections() {
      return pairs.size;
    },
    cut: destroyAll,
    freeze: () => {
      for (const pair of [...pairs]) {
        const [down, up] = pair;
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
        pairs.delete(pair); // frozen pairs are left alone by cut(); close() still ends them
        frozen.add(pair);
      }
    },
    close: async () => {
      destroyAll();
      for (const [down, up] of frozen) {
        down.destroy();
        up.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
