/**
 * Where events become bytes on stdout/stderr. Output to a file or pipe is
 * batched into one write per event-loop turn (or per 64 KiB), because one
 * write syscall per line would cost more than the echo itself.
 */

// Side-effect import first: it must run before picocolors reads the environment on load.
import "../runtime/env.ts";
import pc from "picocolors";
import { env } from "../runtime/env.ts";
import type { SocketError } from "../runtime/types.ts";
import { type Role, type SockEvent, type Stamped, toJsonLine } from "./events.ts";
import { type ExplainStep, explainText, type Lang } from "./explain.ts";
import { humanLine } from "./human.ts";

interface TextStream {
  write(chunk: string, callback?: (error?: Error | null) => void): boolean;
  isTTY?: boolean;
}

export type Colors = ReturnType<typeof pc.createColors>;

const FLUSH_AT = 64 * 1024;

/** Buffers text for one stream; writes at once when the stream is a terminal. */
class BatchedStream {
  private pending = "";
  private scheduled = false;
  constructor(private readonly stream: TextStream) {}

  write(text: string): void {
    if (this.stream.isTTY) {
      this.stream.write(text);
      return;
    }
    this.pending += text;
    if (this.pending.length >= FLUSH_AT) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.scheduled = false;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = "";
    this.stream.write(text);
  }

  /** Resolves once everything written so far has been handed to the OS. */
  flush(): Promise<void> {
    const text = this.pending;
    this.pending = "";
    return new Promise((resolve) => this.stream.write(text, () => resolve()));
  }
}

/** Colors only for a terminal, never for --json; FORCE_COLOR and NO_COLOR win (no-color.org). */
export function colorWanted(stream: TextStream, env: Record<string, string | undefined>): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR) return false;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  hex?: boolean;
  /** Narrate each socket step in this language (--explain). */
  explain?: Lang;
  stdout?: TextStream;
  stderr?: TextStream;
  env?: Record<string, string | undefined>;
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly hex: boolean;
  readonly explain: Lang | undefined;
  readonly colors: Colors;
  private readonly out: BatchedStream;
  private readonly err: TextStream;

  constructor(options: OutputOptions) {
    const stdout = options.stdout ?? process.stdout;
    this.json = options.json;
    this.quiet = options.quiet;
    this.hex = options.hex ?? false;
    this.explain = options.explain;
    this.colors = pc.createColors(!options.json && colorWanted(stdout, options.env ?? env));
    this.out = new BatchedStream(stdout);
    this.err = options.stderr ?? process.stderr;
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
    const text = humanLine(e, this.colors, { quiet: this.quiet, hex: this.hex });
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
    const c = pc.createColors(colorWanted(this.err, env));
    this.err.write(`${c.red("sockdemo:")} ${message}${hint ? ` ${c.dim(`— ${hint}`)}` : ""}\n`);
  }

  flush(): Promise<void> {
    return this.out.flush();
  }
}

export class Reporter {
  constructor(
    private readonly output: Output,
    readonly role: Role,
    private readonly label?: string,
  ) {}

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

  emit(event: SockEvent): void {
    const time = performance.timeOrigin + performance.now();
    this.output.print({ ...event, role: this.role, time } as Stamped, this.label);
  }

  /** Report a failure: an `error` event for --json, one line on stderr always. */
  error(error: SocketError | { code: string; message: string }, hint?: string, fatal = true): void {
    this.emit({ event: "error", code: error.code, message: error.message, hint, fatal });
    this.output.errorLine(error.message, hint);
  }
}
