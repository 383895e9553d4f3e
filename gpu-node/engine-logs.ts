/**
 * An engine's output: appended to `<logDir>/<engine id>.log` for the owner, with the last lines
 * kept in memory for the heartbeat (the dashboard shows them when an engine misbehaves).
 * The file is opened in append mode, so logrotate's `copytruncate` works without a reopen.
 * The engine's API key is masked on the way in: SGLang, for one, logs its whole configuration
 * (`server_args=ServerArgs(… api_key='…')`), and these lines reach the gateway's dashboard.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** The protocol caps each reported line at 2,000 characters and the list at 50 lines. */
const MAX_LINE_CHARS = 2000;
export const DEFAULT_KEPT_LINES = 50;

export class EngineLog {
  readonly path: string;
  private readonly file: WriteStream;
  private readonly keptLines: number;
  private readonly ring: string[] = [];
  /** Unfinished last line per stream, so stdout and stderr do not splice into each other. */
  private readonly partial = new Map<Readable, string>();

  private readonly secret: string | null;

  constructor(logDir: string, engineId: string, options: { keptLines?: number; secret?: string } = {}) {
    mkdirSync(logDir, { recursive: true });
    this.path = join(logDir, `${engineId}.log`);
    this.file = createWriteStream(this.path, { flags: 'a' });
    this.keptLines = options.keptLines ?? DEFAULT_KEPT_LINES;
    this.secret = options.secret || null;
  }

  /** Copies a child's output stream into the file and the ring until it ends. */
  follow(stream: Readable): void {
    stream.on('data', (raw: Buffer) => {
      const chunk = this.masked(raw);
      this.file.write(chunk);
      this.keepLines(stream, chunk.toString('utf8'));
    });
    stream.on('end', () => {
      const rest = this.partial.get(stream);
      if (rest) this.remember(rest);
      this.partial.delete(stream);
    });
  }

  /** A line from the agent itself (start, exit, restart), marked so it is not mistaken for engine output. */
  note(message: string): void {
    const line = `[gpu-node ${new Date().toISOString()}] ${message}`;
    this.file.write(`${line}\n`);
    this.remember(line);
  }

  /** The newest lines that fit in `maxChars` together (heartbeats have a size cap at the gateway). */
  lastLines(maxChars = Number.POSITIVE_INFINITY): string[] {
    let used = 0;
    let first = this.ring.length;
    while (first > 0 && used + this.ring[first - 1]!.length <= maxChars) {
      first -= 1;
      used += this.ring[first]!.length;
    }
    return this.ring.slice(first);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.file.end(resolve));
  }

  /**
   * The chunk with the secret replaced. latin1 maps bytes to characters one to one, so every
   * other byte passes unchanged. (A secret split across two reads of the pipe is not caught;
   * the pipe hands over up to 64 KiB at a time and the key is 32 characters.)
   */
  private masked(chunk: Buffer): Buffer {
    if (this.secret === null || !chunk.includes(this.secret)) return chunk;
    return Buffer.from(chunk.toString('latin1').replaceAll(this.secret, '***'), 'latin1');
  }

  private keepLines(stream: Readable, text: string): void {
    const lines = ((this.partial.get(stream) ?? '') + text).split(/\r?\n/);
    this.partial.set(stream, (lines.pop() ?? '').slice(-MAX_LINE_CHARS));
    for (const line of lines) this.remember(line);
  }

  private remember(line: string): void {
    this.ring.push(line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line);
    if (this.ring.length > this.keptLines) this.ring.splice(0, this.ring.length - this.keptLines);
  }
}
