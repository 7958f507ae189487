/**
 * Standard output and error as plain file descriptors.
 *
 * process.stdout costs about 8 ms to create on Bun (it loads node:tty), more
 * than the rest of a one-shot client's startup, and on Node it may switch a
 * pipe to non-blocking mode. Synchronous writes to fd 1 and 2 work the same
 * on Bun, Node and Deno, never buffer without bound (a slow reader slows
 * sockdemo down instead of growing its memory), and keep output in order.
 */
import { Buffer } from "node:buffer";
import { fstatSync, statSync, writeSync } from "node:fs";

export interface TextSink {
  write(text: string): void;
  /** Bytes already encoded (output.ts batches lines as UTF-8); optional for sinks that collect text. */
  writeBytes?(bytes: Uint8Array): void;
  readonly isTTY: boolean;
}

let nullDevice: number | bigint | undefined;

/** A terminal is a character device other than /dev/null (which is one too). */
function isTerminal(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    if (!stat.isCharacterDevice()) return false;
    nullDevice ??= statSync("/dev/null").rdev;
    return stat.rdev !== nullDevice;
  } catch {
    return false;
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));
const encoder = new TextEncoder();

/** Retry what the descriptor would not take now; stop quietly when the reader is gone. */
function retryable(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  // Someone else left the descriptor non-blocking: wait a millisecond for the reader.
  if (code === "EAGAIN") {
    Atomics.wait(pause, 0, 0, 1);
    return true;
  }
  // The reader is gone (`sockdemo ... | head`): stop quietly, as cat does.
  if (code === "EPIPE") process.exit(0);
  return false;
}

function writeBytesAll(fd: number, bytes: Uint8Array, from = 0): void {
  let offset = from;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if (!retryable(error)) throw error;
    }
  }
}

function writeAll(fd: number, text: string): void {
  // The string goes straight to write(2); it is encoded here only after a partial write.
  let written = 0;
  try {
    written = writeSync(fd, text);
  } catch (error) {
    if (!retryable(error)) throw error;
  }
  if (written !== Buffer.byteLength(text)) writeBytesAll(fd, encoder.encode(text), written);
}

function sink(fd: number): TextSink {
  let tty: boolean | undefined;
  return {
    write: (text) => writeAll(fd, text),
    writeBytes: (bytes) => writeBytesAll(fd, bytes),
    get isTTY() {
      tty ??= isTerminal(fd);
      return tty;
    },
  };
}

export const stdout: TextSink = sink(1);
export const stderr: TextSink = sink(2);
