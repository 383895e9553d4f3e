/**
 * A TCP pass-through in front of the paced engine that notes when each SSE event left the
 * engine. Every system's paced traffic goes through it (direct calls too), and the stream
 * probe, in this same process and on the same clock, notes when each event reached the client:
 * the difference is what the path between them added to that one chunk, whatever the
 * connection count and however a proxy pools its connections.
 *
 * Events are keyed by the completion id the engine puts in each chunk (`chatcmpl-…`, unique per
 * request) and their position in that stream; `data: [DONE]` takes the position after the
 * last event of its connection's current id.
 */
import net from 'node:net';

export class ChunkTap {
  /** `<id>#<index>` → performance.now() when the engine's bytes holding that event arrived here. */
  readonly emitted = new Map<string, number>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly engineHost: string;
  private readonly enginePort: number;

  constructor(engineUrl: string) {
    const url = new URL(engineUrl);
    this.engineHost = url.hostname;
    this.enginePort = Number(url.port);
    this.server = net.createServer((client) => this.pipe(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** Forgets what earlier measurements recorded. */
  clear(): void {
    this.emitted.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: net.Socket): void {
    const engine = net.connect(this.enginePort, this.engineHost);
    this.sockets.add(client).add(engine);
    client.setNoDelay(true);
    engine.setNoDelay(true);
    const events = new EventKeys();
    engine.on('data', (bytes: Buffer) => {
      const at = performance.now();
      client.write(bytes);
      for (const key of events.push(bytes.toString('latin1'))) this.emitted.set(key, at);
    });
    client.on('data', (bytes: Buffer) => engine.write(bytes));
    const end = () => {
      client.destroy();
      engine.destroy();
      this.sockets.delete(client);
      this.sockets.delete(engine);
    };
    client.on('close', end).on('error', end);
    engine.on('close', end).on('error', end);
  }
}

/**
 * Turns a byte stream of SSE events (raw HTTP with chunked framing, or a decoded body) into
 * event keys, in order. Text between events (headers, chunk sizes) is ignored.
 */
export class EventKeys {
  private buffered = '';
  private id = '';
  private index = 0;

  push(text: string): string[] {
    this.buffered += text;
    const parts = this.buffered.split('\n\n');
    this.buffered = parts.pop() ?? '';
    const keys: string[] = [];
    for (const part of parts) {
      const data = part.indexOf('data: ');
      if (data < 0) continue;
      const id = /"id":"([^"]+)"/.exec(part.slice(data))?.[1];
      if (id !== undefined && id !== this.id) {
        this.id = id;
        this.index = 0;
      }
      keys.push(`${this.id}#${this.index++}`);
    }
    return keys;
  }
}
