/**
 * Test helper: a TCP proxy on loopback that can partition silently (connections stay open,
 * nothing gets through in either direction, new connections are accepted and starved), as a
 * network partition looks to a client without a read timeout. Not a test itself.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class SilentProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #partitioned = false;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((down) => {
      const up = connect({ host: '127.0.0.1', port: targetPort });
      this.#sockets.add(down);
      this.#sockets.add(up);
      // Data sent during the partition is lost, as on a broken network path.
      down.on('data', (d) => {
        if (!this.#partitioned) up.write(d);
      });
      up.on('data', (d) => {
        if (!this.#partitioned) down.write(d);
      });
      const end = () => {
        down.destroy();
        up.destroy();
        this.#sockets.delete(down);
        this.#sockets.delete(up);
      };
      down.on('close', end);
      up.on('close', end);
      down.on('error', end);
      up.on('error', end);
    });
  }

  static async start(targetPort: number): Promise<SilentProxy> {
    const p = new SilentProxy(targetPort);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    const a = p.#server.address();
    p.port = a && typeof a === 'object' ? a.port : 0;
    return p;
  }

  get connect(): string {
    return `127.0.0.1:${this.port}`;
  }

  partition(): void {
    this.#partitioned = true;
  }

  heal(): void {
    this.#partitioned = false;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
