/**
 * Where events become bytes on stdout/stderr. Output to a file or pipe is
 * batched into one write per event-loop turn (or per 64 KiB), because one
 * write syscall per line would cost more than the echo itself.
 */

import { Buffer } from "node:buffer";
import { env } from "../runtime/env.ts";
import { stderr as stderrSink, stdout as stdoutSink, type TextSink } from "../runtime/stdio.ts";
import type { SocketError } from "../runtime/types.ts";
import {
  bytesLiteral,
  literalLengthLimit,
  PYTHON_NOW_LIMIT,
  writeBytesLiteral,
  writePythonNow,
} from "./bytes.ts";
import { type Role, type SockEvent, type Stamped, toJsonLine } from "./events.ts";
import { type ExplainStep, explainText, type Lang } from "./explain.ts";
import { humanLine, type LineWriter, showsTime, type TrafficEvent, writeTraffic } from "./human.ts";

/** The picocolors formatters sockdemo uses. */
export interface Colors {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const same = (text: string) => text;
const PLAIN: Colors = { bold: same, dim: same, green: same, red: same, yellow: same, cyan: same };

/** picocolors is loaded only when colors are wanted: output to files and pipes never pays for it. */
async function loadColors(enabled: boolean): Promise<Colors> {
  if (!enabled) return PLAIN;
  const { default: pc } = await import("picocolors");
  return pc.createColors(true);
}

const FLUSH_AT = 64 * 1024;

/** Epoch milliseconds at performance.now() = 0; read once, as servers stamp every chunk. */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Error messages quote what the user typed (`--port must be ..., not "…"`). A
 * control character in there (ESC, CR, a newline) must not reach the terminal
 * raw or split the one error line in two: show it escaped, as \n or \x1b.
 */
function visible(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => {
    const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
    return named[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/**
 * Collects output as bytes for one sink and writes it once per event-loop
 * turn (or per 64 KiB); a terminal gets every line as soon as it ends.
 * Payload literals are rendered straight into the buffer (LineWriter), so a
 * server printing every chunk builds no strings for them.
 */
class BatchedStream implements LineWriter {
  private buffer = Buffer.allocUnsafe(2 * FLUSH_AT);
  private length = 0;
  private scheduled = false;
  constructor(private readonly sink: TextSink) {}

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    this.flush();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
  }

  text(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    this.room(text.length * 3);
    const buffer = this.buffer;
    let at = this.length;
    // Line pieces are short ASCII; copying them here costs less than a call into Buffer#write.
    if (text.length <= 128) {
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) {
          at = this.length;
          break;
        }
        buffer[at++] = code;
      }
      if (at - this.length === text.length) {
        this.length = at;
        return;
      }
    }
    this.length += buffer.write(text, this.length);
  }

  literal(bytes: Uint8Array, paint: (text: string) => string): void {
    if (paint !== same) {
      this.text(paint(bytesLiteral(bytes)));
      return;
    }
    this.room(literalLengthLimit(bytes.length));
    this.length = writeBytesLiteral(this.buffer, this.length, bytes);
  }

  time(epochMs: number): void {
    this.room(PYTHON_NOW_LIMIT);
    this.length = writePythonNow(this.buffer, this.length, epochMs);
  }

  /** The line written piece by piece so far is complete. */
  endLine(): void {
    this.text("\n");
    this.written();
  }

  /** Text that carries its own newlines. */
  write(text: string): void {
    this.text(text);
    this.written();
  }

  private written(): void {
    if (this.sink.isTTY || this.length >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hand everything written so far to the OS. */
  flush(): void {
    this.scheduled = false;
    if (this.length === 0) return;
    const bytes = this.buffer.subarray(0, this.length);
    this.length = 0;
    // Sinks write synchronously, so the buffer is free again when this returns.
    if (this.sink.writeBytes) this.sink.writeBytes(bytes);
    else this.sink.write(bytes.toString("utf8"));
  }
}

/** Colors only for a terminal, never for --json; FORCE_COLOR and NO_COLOR win (no-color.org). */
export function colorWanted(
  sink: TextSink,
  environment: Record<string, string | undefined>,
): boolean {
  if (environment.FORCE_COLOR !== undefined && environment.FORCE_COLOR !== "0") return true;
  if (environment.NO_COLOR) return false;
  return sink.isTTY && environment.TERM !== "dumb";
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  hex?: boolean;
  /** Narrate each socket step in this language (--explain). */
  explain?: Lang;
  /** Where output goes; tests pass their own sinks to capture it. */
  stdout?: TextSink;
  stderr?: TextSink;
  env?: Record<string, string | undefined>;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly hex: boolean;
  readonly explain: Lang | undefined;
  private readonly out: BatchedStream;
  private readonly err: TextSink;
  private readonly humanOptions: { quiet: boolean; hex: boolean };

  private constructor(
    options: OutputOptions,
    readonly colors: Colors,
    private readonly errColors: Colors,
  ) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.hex = options.hex ?? false;
    this.explain = options.explain;
    this.humanOptions = { quiet: this.quiet, hex: this.hex };
    this.out = new BatchedStream(options.stdout ?? stdoutSink);
    this.err = options.stderr ?? stderrSink;
  }

  static async create(options: OutputOptions): Promise<Output> {
    const environment = options.env ?? env;
    const outColors = !options.json && colorWanted(options.stdout ?? stdoutSink, environment);
    const errColors = colorWanted(options.stderr ?? stderrSink, environment);
    const colors = await loadColors(outColors || errColors);
    return new Output(options, outColors ? colors : PLAIN, errColors ? colors : PLAIN);
  }

  /** A reporter for one side of the conversation; `label` prefixes its human lines (used by demo). */
  reporter(role: Role, label?: string): Reporter {
    return new Reporter(this, role, label);
  }

  /** @internal */
  print(e: Stamped, label: string | undefined): void {
    if (this.json) {
      this.out.write(`${toJsonLine(e)}\n`);
      return;
    }
    const options = this.humanOptions;
    // Per-chunk lines go straight into the output buffer; demo's labelled lines are built as strings.
    if (!label && (e.event === "data" || e.event === "reply")) {
      if (writeTraffic(e as TrafficEvent, this.colors, options, this.out)) this.out.endLine();
      return;
    }
    const text = humanLine(e, this.colors, options);
    if (text === undefined) return;
    const prefix = label ? this.colors.bold(`[${label}] `) : "";
    this.out.write(prefix ? `${prefix}${text.replaceAll("\n", `\n${prefix}`)}\n` : `${text}\n`);
  }

  /** Text written exactly as given (completion scripts). */
  raw(text: string): void {
    this.out.write(text);
  }

  /** One line on stderr, whatever the mode: errors must be seen even with --json > file. */
  errorLine(message: string, hint?: string): void {
    const c = this.errColors;
    this.out.flush();
    const line = `${visible(message)}${hint ? ` ${c.dim(`— ${visible(hint)}`)}` : ""}`;
    this.err.write(`${c.red("sockdemo:")} ${line}\n`);
  }

  flush(): Promise<void> {
    this.out.flush();
    return Promise.resolve();
  }
}

export class Reporter {
  constructor(
    private readonly output: Output,
    readonly role: Role,
    private readonly label?: string,
  ) {}

  /**
   * Whether per-chunk `data`/`reply` events are shown at all (not with --quiet,
   * unless --json): servers skip building them on their hot path otherwise.
   */
  get showsTraffic(): boolean {
    return this.output.json || !this.output.quiet;
  }

  /** Whether --explain is on; check before building costly explanations. */
  get explaining(): boolean {
    return this.output.explain !== undefined;
  }

  /** Narrate one socket step (only with --explain). */
  explain(step: ExplainStep): void {
    const lang = this.output.explain;
    if (lang === undefined) return;
    this.emit({ event: "explain", step: step.step, text: explainText(lang, step) });
  }

  /**
   * Stamps `event` in place and prints it before returning, keeping no reference
   * to it: servers refill one event per connection for every chunk. The time is
   * read only when the output shows it (--json, or showsTime()); else it is 0.
   */
  emit(event: SockEvent): void {
    const stamped = event as Stamped;
    stamped.role = this.role;
    stamped.time = this.output.json || showsTime(event) ? TIME_ORIGIN + performance.now() : 0;
    this.output.print(stamped, this.label);
  }

  /** Report a failure: an `error` event for --json, one line on stderr always. */
  error(error: SocketError | { code: string; message: string }, hint?: string, fatal = true): void {
    this.emit({ event: "error", code: error.code, message: error.message, hint, fatal });
    this.output.errorLine(error.message, hint);
  }
}
