/**
 * A loopback TCP proxy for fault tests: put it between the service and a peer (RT, or RT's webhook to
 * the service) and cut the link at will.
 *
 *   const p = await startTcpProxy(8089);          // http://127.0.0.1:<p.port> reaches 127.0.0.1:8089
 *   await p.drop('reset');                        // every connection, open or new, is reset (RST)
 *   await p.drop('close');                        // ... accepted, then closed at once (FIN, no answer)
 *   await p.drop('refuse');                       // nothing listens: ECONNREFUSED
 *   await p.drop('hang');                         // accepted, never answered (packets lost): clients time out
 *   await p.pass();                               // back to normal, on the same port
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type DropMode = 'reset' | 'close' | 'refuse' | 'hang';
export type ProxyMode = 'pass' | DropMode;

export interface TcpProxy {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  readonly mode: ProxyMode;
  /** Where connections go (can be set once the peer's port is known). */
  setTarget(port: number, host?: string): void;
  /** Cuts every open connection and treats new ones as `how`. */
  drop(how?: DropMode): Promise<void>;
  pass(): Promise<void>;
  stats: { passed: number; dropped: number };
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort = 0, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let target = { port: targetPort, host: targetHost };
  let mode: ProxyMode = 'pass';
  const open = new Set<Socket>();
  const stats = { passed: 0, dropped: 0 };
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined); // resets are the point here
  };

  const onConnection = (client: Socket) => {
    track(client);
    if (mode !== 'pass' || !target.port) {
      stats.dropped++;
      if (mode === 'hang')
        client.resume(); // read and forget: the peer waits for an answer that never comes
      else if (mode === 'close') client.end();
      else client.resetAndDestroy();
      return;
    }
    stats.passed++;
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // one side failing takes the other down the same way, as a broken network path would
    upstream.on('error', () => client.resetAndDestroy());
    client.on('error', () => upstream.resetAndDestroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  };

  let server: Server = createServer(onConnection);
  await listen(server, 0);
  const port = (server.address() as { port: number }).port;

  const cutAll = () => {
    for (const s of [...open]) s.resetAndDestroy();
  };
  const stopListening = () => new Promise<void>((r) => server.close(() => r()));

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    stats,
    setTarget(p, host = '127.0.0.1') {
      target = { port: p, host };
    },
    async drop(how: DropMode = 'reset') {
      const was = mode;
      mode = how;
      cutAll();
      if (how === 'refuse' && was !== 'refuse') await stopListening();
      if (how !== 'refuse' && was === 'refuse') await relisten();
    },
    async pass() {
      const was = mode;
      mode = 'pass';
      if (was === 'refuse') await relisten();
    },
    async close() {
      mode = 'reset';
      cutAll();
      if (server.listening) await stopListening();
    },
  };

  async function relisten() {
    server = createServer(onConnection);
    await listen(server, port);
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
