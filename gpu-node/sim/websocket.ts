/**
 * The server side of RFC 6455 on a raw `node:http` upgrade, enough for JSON event protocols: the
 * handshake, masked client frames (fragmented or not), text and binary messages, ping/pong and the
 * closing handshake; no extensions. Written here rather than taking `ws` as a runtime dependency
 * of the agent for one test-and-demo route.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface WebSocketHandlers {
  onMessage(text: string): void;
  onClose(): void;
}

/** Writes a refusal on the raw socket (before any upgrade) and closes it. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string, body: unknown): void {
  const payload = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`,
  );
}

export class WebSocketPeer {
  readonly #socket: Duplex;
  #handlers: WebSocketHandlers | undefined;
  #buffer = Buffer.alloc(0);
  #fragments: Buffer[] = [];
  #closing = false;

  /** Answers the handshake (101) and starts reading frames; `protocol` is echoed when given. */
  constructor(request: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined) {
    this.#socket = socket;
    const accept = createHash('sha1')
      .update(`${request.headers['sec-websocket-key'] ?? ''}${ACCEPT_GUID}`)
      .digest('base64');
    const protocolLine = protocol === undefined ? '' : `sec-websocket-protocol: ${protocol}\r\n`;
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n${protocolLine}\r\n`,
    );
    (socket as Partial<Socket>).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('close', () => this.#handlers?.onClose());
    socket.on('error', () => socket.destroy());
    if (head.length > 0) queueMicrotask(() => this.#receive(head));
  }

  listen(handlers: WebSocketHandlers): void {
    this.#handlers = handlers;
  }

  get open(): boolean {
    return !this.#closing && !this.#socket.destroyed;
  }

  send(text: string): void {
    if (this.open) this.#socket.write(frame(OPCODE.text, Buffer.from(text, 'utf8')));
  }

  close(code = 1000, reason = ''): void {
    if (this.#closing) return;
    this.#closing = true;
    const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
    payload.writeUInt16BE(code, 0);
    payload.write(reason, 2, 'utf8');
    this.#socket.end(frame(OPCODE.close, payload));
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const parsed = parseFrame(this.#buffer);
      if (parsed === 'incomplete') return;
      if (parsed === 'invalid') return this.close(1002, 'protocol error');
      if (parsed === 'too big') return this.close(1009, 'message too big');
      this.#buffer = this.#buffer.subarray(parsed.length);
      this.#handleFrame(parsed.fin, parsed.opcode, parsed.payload);
    }
  }

  #handleFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === OPCODE.ping) return void this.#socket.write(frame(OPCODE.pong, payload));
    if (opcode === OPCODE.pong) return;
    if (opcode === OPCODE.close) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
      return this.close(code === 1005 || code === 1006 ? 1000 : code);
    }
    this.#fragments.push(payload);
    const size = this.#fragments.reduce((total, part) => total + part.length, 0);
    if (size > MAX_MESSAGE_BYTES) return this.close(1009, 'message too big');
    if (!fin) return;
    const message = Buffer.concat(this.#fragments);
    this.#fragments = [];
    this.#handlers?.onMessage(message.toString('utf8'));
  }
}

function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = length;
  else if (length < 65536) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

type ParsedFrame = { fin: boolean; opcode: number; payload: Buffer; length: number };

function parseFrame(buffer: Buffer): ParsedFrame | 'incomplete' | 'invalid' | 'too big' {
  if (buffer.length < 2) return 'incomplete';
  const first = buffer[0] ?? 0;
  const second = buffer[1] ?? 0;
  if ((first & 0x70) !== 0 || (second & 0x80) === 0) return 'invalid'; // no extensions; clients must mask
  let length = second & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return 'incomplete';
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return 'incomplete';
    const long = buffer.readBigUInt64BE(2);
    if (long > BigInt(MAX_MESSAGE_BYTES)) return 'too big';
    length = Number(long);
    offset = 10;
  }
  if (buffer.length < offset + 4 + length) return 'incomplete';
  const mask = buffer.subarray(offset, offset + 4);
  const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length));
  for (let index = 0; index < payload.length; index++)
    payload[index] = (payload[index] ?? 0) ^ (mask[index % 4] ?? 0);
  return { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload, length: offset + 4 + length };
}
