/**
 * Command-line wiring (cac): options, help, exit codes. `main(argv)` never
 * exits the process itself, so tests can call it; `cli.ts` is the entry.
 *
 * Exit codes: 0 success, 1 network failure, 2 usage error, 130 second Ctrl+C.
 */
import { cac } from "cac";
import {
  type CommandContext,
  DEFAULT_HOST,
  DEFAULT_PORT,
  hintFor,
  parseCount,
  parseHost,
  parseMilliseconds,
  parsePort,
  parseSeconds,
  UsageError,
  utf8,
} from "./commands/_common.ts";
import { diagnose } from "./commands/_diagnose.ts";
import { bench } from "./commands/bench.ts";
import { check } from "./commands/check.ts";
import { completionScript } from "./commands/completions.ts";
import { demo } from "./commands/demo.ts";
import { ports } from "./commands/ports.ts";
import { tcpClient } from "./commands/tcp-client.ts";
import { tcpServer } from "./commands/tcp-server.ts";
import { udpClient } from "./commands/udp-client.ts";
import { udpServer } from "./commands/udp-server.ts";
import { pickLang } from "./display/explain.ts";
import { Output } from "./display/output.ts";
import { env } from "./runtime/env.ts";
import { hostVersion, SocketError, type SocketRuntime, selectRuntime } from "./runtime/index.ts";
import { stdout as stdoutSink, type TextSink } from "./runtime/stdio.ts";
import { isVersionRequest, VERSION, versionLine } from "./version.ts";

type Options = Record<string, unknown>;
type Action = (args: string[], options: Options, ctx: CommandContext) => Promise<number>;

/** The arguments before `--`, the only ones that can be options. */
function beforeOptionsEnd(argv: string[]): string[] {
  const dashes = argv.indexOf("--");
  return dashes === -1 ? argv : argv.slice(0, dashes);
}

/** An option's name as cac keys it (`max-conns` → `maxConns`). */
const camelCase = (name: string) => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/**
 * cac's parser (mri) turns numeric-looking values into numbers (`--prefix 007`
 * becomes 7, `--prefix ''` becomes 0). For text options read the raw argument.
 */
function rawOption(argv: string[], name: string, parsed: unknown): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
    else if (arg === `--${name}` && i + 1 < argv.length && !argv[i + 1]?.startsWith("-"))
      value = argv[i + 1];
  }
  if (value !== undefined) return value;
  return parsed === undefined ? undefined : String(parsed);
}

/**
 * `--json=yes` given to a flag that takes no value. mri sets the flag and
 * passes the value on as an argument of its own: `udp-client --json=yes` sent
 * "yes", and `--json=` even turned --json off and sent "0". Only `=true` and
 * `=false` mean what they say.
 */
function valueOnFlag(
  argv: string[],
  options: { names: string[]; isBoolean?: boolean }[],
): string | undefined {
  for (const arg of beforeOptionsEnd(argv)) {
    const match = /^--(no-)?([^=]+)=(.*)$/s.exec(arg);
    if (!match || match[3] === "true" || match[3] === "false") continue;
    const name = camelCase(match[2] as string);
    if (options.some((o) => o.isBoolean && o.names.includes(name)))
      return `--${match[1] ?? ""}${match[2]} takes no value, not "${match[3]}"`;
  }
  return undefined;
}

/** The positional arguments before `--` as typed: not flags, not the values of options that take one. */
function typedPositionals(argv: string[], options: { rawName: string; required?: boolean }[]) {
  const takesValue = new Set(
    options.filter((o) => o.required).flatMap((o) => o.rawName.match(/--[\w-]+/g) ?? []),
  );
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    if (arg.startsWith("-") && arg !== "-") {
      if (takesValue.has(arg) && !argv[i + 1]?.startsWith("-")) i++;
    } else words.push(arg);
  }
  return words;
}

function langOption(argv: string[], options: Options): string | undefined {
  const lang = rawOption(argv, "lang", options.lang);
  if (lang !== undefined && lang !== "en" && lang !== "ja") {
    throw new UsageError(`--lang must be en or ja, not "${lang}"`);
  }
  return lang;
}

/**
 * Positional message: raw, joined when several words were given unquoted;
 * undefined for `-` or --stdin, which stream standard input instead.
 */
function messageArg(
  argv: string[],
  args: unknown,
  options: Options,
  fallback: string,
): Uint8Array | undefined {
  const words = Array.isArray(args) ? args.map(String) : [];
  // mri reads a lone "-" as an unnamed flag, so look for it in the raw arguments.
  if (options.stdin === true || (words.length === 0 && beforeOptionsEnd(argv).includes("-")))
    return undefined;
  return utf8(words.length > 0 ? words.join(" ") : fallback);
}

/** cac's help, tidied: a real title, no "(default: true)" on --no-* flags, indented examples. */
function tidyHelp(sections: { title?: string; body: string }[]) {
  return sections.map((section, index) => {
    if (index === 0 && !section.title) {
      return { body: `sockdemo ${VERSION}: see a TCP or UDP conversation, byte by byte` };
    }
    let body = section.body.replace(/ \(default: true\)/g, "").replace(/ +$/gm, "");
    if (section.title === "Examples") body = body.replace(/^(?!\s)/gm, "  $ ");
    return { ...section, body };
  });
}

function buildCli(argv: string[], run: (action: Action, args: unknown[]) => void) {
  const cli = cac("sockdemo");
  const text = (name: string, options: Options, fallback: string) =>
    rawOption(argv, name, options[name]) ?? fallback;
  /**
   * A number option as typed. mri converts numeric-looking text on its own, so
   * `--port ''` (and `--port ' '`) became 0, any free port, and `--port 0x10` 16,
   * past the checks in _common.ts: give those checks the raw text instead. A
   * repeated option stays the list cac made of it, which the checks reject.
   */
  const num = (name: string, options: Options): unknown => {
    const parsed = options[camelCase(name)];
    return Array.isArray(parsed) ? parsed : rawOption(argv, name, parsed);
  };
  const endpoint = (options: Options) => ({
    host: parseHost(text("host", options, DEFAULT_HOST)),
    port: parsePort(num("port", options) ?? DEFAULT_PORT),
  });

  cli.option("--json", "One JSON object per line (see README for the schema)");
  cli.option(
    "--quiet",
    "Only the essentials: replies for clients, summaries and errors for servers",
  );
  cli.option(
    "--explain",
    "Narrate each socket step (socket, bind, listen, accept, recv, send, ...)",
  );
  cli.option("--lang <lang>", "Language of --explain: en or ja (default: from LANG)");
  cli.option("--hex", "Show payloads as a hex dump (offset, hex bytes, ASCII) instead of b'...'");

  cli
    .command("tcp-server", "Accept TCP connections, print every chunk, reply with prefix + data")
    .option("--host <host>", "Address to listen on", { default: DEFAULT_HOST })
    .option("--port <port>", "Port to listen on (0 = any free port)", { default: DEFAULT_PORT })
    .option("--prefix <text>", "Text put before each echoed chunk", { default: "Receive: " })
    .option("--no-reply", "Only print what arrives; send nothing back")
    .option("--count <n>", "Exit after serving n connections")
    .option("--idle-timeout <seconds>", "Close a connection silent for this long")
    .option("--max-conns <n>", "Refuse (close at once) connections beyond n open at a time")
    .example("sockdemo tcp-server")
    .example("sockdemo tcp-server --port 0 --prefix ''      # pure echo on any free port")
    .action((...args) =>
      run(
        (_, options, ctx) =>
          tcpServer(
            {
              ...endpoint(options),
              prefix: text("prefix", options, "Receive: "),
              reply: options.reply !== false,
              count: parseCount(num("count", options), "--count"),
              maxConns: parseCount(num("max-conns", options), "--max-conns"),
              idleTimeoutMs:
                options.idleTimeout === undefined
                  ? undefined
                  : parseSeconds(num("idle-timeout", options), "--idle-timeout") || undefined,
            },
            ctx,
          ),
        args,
      ),
    );

  cli
    .command("tcp-client [...message]", "Connect, send a message, print the whole reply")
    .option("--stdin", "Stream standard input instead of a message (same as the message -)")
    .option("--host <host>", "Server address or name", { default: DEFAULT_HOST })
    .option("--port <port>", "Server port", { default: DEFAULT_PORT })
    .option("--timeout <seconds>", "Give up connecting or waiting for more reply after this long", {
      default: 5,
    })
    .example("sockdemo tcp-client")
    .example("sockdemo tcp-client 'GET / HTTP/1.0\\r\\n' --port 8080")
    .action((...args) =>
      run(
        ([message], options, ctx) =>
          tcpClient(
            {
              ...endpoint(options),
              message: messageArg(argv, message, options, "Hello TCP"),
              timeoutMs: parseSeconds(num("timeout", options), "--timeout"),
            },
            ctx,
          ),
        args,
      ),
    );

  cli
    .command("udp-server", "Receive UDP datagrams and print each with its sender")
    .option("--host <host>", "Address to bind", { default: DEFAULT_HOST })
    .option("--port <port>", "Port to bind (0 = any free port)", { default: DEFAULT_PORT })
    .option("--count <n>", "Exit after n datagrams (--count 1 is the tutorial's one-shot)")
    .option("--echo", "Answer each datagram with prefix + data")
    .option("--prefix <text>", "Text put before each echoed datagram", { default: "Receive: " })
    .example("sockdemo udp-server --count 1")
    .example("sockdemo udp-server --echo --port 0")
    .action((...args) =>
      run(
        (_, options, ctx) =>
          udpServer(
            {
              ...endpoint(options),
              count: parseCount(num("count", options), "--count"),
              echo: options.echo === true,
              prefix: text("prefix", options, "Receive: "),
            },
            ctx,
          ),
        args,
      ),
    );

  cli
    .command("udp-client [...message]", "Send one datagram; show a reply or 'nothing listening'")
    .option("--stdin", "Send each line of standard input as one datagram (same as the message -)")
    .option("--host <host>", "Server address or name", { default: DEFAULT_HOST })
    .option("--port <port>", "Server port", { default: DEFAULT_PORT })
    .option("--wait <ms>", "Wait this long for a reply or an ICMP error (0 = send and exit)", {
      default: 1000,
    })
    .example("sockdemo udp-client")
    .example("sockdemo udp-client 'ping' --port 50001 --wait 0")
    .action((...args) =>
      run(
        ([message], options, ctx) =>
          udpClient(
            {
              ...endpoint(options),
              message: messageArg(argv, message, options, "Hello UDP"),
              waitMs: parseMilliseconds(num("wait", options), "--wait"),
            },
            ctx,
          ),
        args,
      ),
    );

  cli
    .command("demo", "The whole tutorial in one go: UDP pair, then TCP pair, on free ports")
    .option("--host <host>", "Loopback address to use (127.0.0.1 or ::1)", {
      default: DEFAULT_HOST,
    })
    .example("sockdemo demo")
    .example("sockdemo demo --json")
    .action((...args) =>
      run(
        (_, options, ctx) => demo({ host: parseHost(text("host", options, DEFAULT_HOST)) }, ctx),
        args,
      ),
    );

  cli
    .command(
      "check <target>",
      "Diagnose host:port: DNS, then a TCP connect (or --udp probe) per address",
    )
    .option("--udp", "Probe UDP instead of TCP")
    .option("--timeout <seconds>", "How long to wait for each address", { default: 3 })
    .example("sockdemo check 127.0.0.1:50000")
    .example("sockdemo check localhost:5432")
    .example("sockdemo check '[::1]:53' --udp")
    .action((...args) =>
      run(
        ([target], options, ctx) =>
          check(
            {
              target: String(target),
              udp: options.udp === true,
              timeoutMs: parseSeconds(num("timeout", options), "--timeout") || 1,
            },
            ctx,
          ),
        args,
      ),
    );

  cli
    .command("ports [port]", "Explain the port ranges, or where one port falls")
    .example("sockdemo ports")
    .example("sockdemo ports 50000")
    .action((...args) =>
      run(
        ([port], _options, ctx) =>
          ports({ port: port === undefined ? undefined : String(port) }, ctx),
        args,
      ),
    );

  cli
    .command("bench <target>", "Load-test an echo server at host:port; every reply is verified")
    .option("--udp", "UDP ping-pong instead of TCP")
    .option(
      "--mode <mode>",
      "pingpong (message, wait for its echo, repeat) or stream (TCP, pure echo)",
      {
        default: "pingpong",
      },
    )
    .option("--conns <n>", "Connections (or UDP flows) in parallel", { default: 1 })
    .option("--size <bytes>", "Message size for pingpong", { default: 64 })
    .option("--duration <seconds>", "How long to run", { default: 5 })
    .option(
      "--prefix <text>",
      "What the server puts before each echo (sockdemo's default: 'Receive: ')",
      {
        default: "",
      },
    )
    .example("sockdemo tcp-server --port 7000 --prefix '' --quiet &  sockdemo bench 127.0.0.1:7000")
    .example("sockdemo bench 127.0.0.1:50000 --prefix 'Receive: ' --conns 16")
    .example("sockdemo bench 127.0.0.1:7000 --mode stream --duration 10")
    .action((...args) =>
      run(([target], options, ctx) => {
        const mode = String(options.mode);
        if (mode !== "pingpong" && mode !== "stream")
          throw new UsageError(`--mode must be pingpong or stream, not "${mode}"`);
        const size = parseCount(num("size", options), "--size") as number;
        if (size > 65_507)
          throw new UsageError("--size must be at most 65507 (the largest UDP payload)");
        return bench(
          {
            target: String(target),
            udp: options.udp === true,
            mode,
            conns: parseCount(num("conns", options), "--conns") as number,
            size,
            durationMs: parseSeconds(num("duration", options), "--duration") || 1000,
            prefix: text("prefix", options, ""),
            udpTimeoutMs: 1000,
          },
          ctx,
        );
      }, args),
    );

  cli
    .command("completions <shell>", "Print a completion script for bash, zsh or fish")
    .example('eval "$(sockdemo completions bash)"')
    .example("sockdemo completions fish > ~/.config/fish/completions/sockdemo.fish")
    .action((...args) =>
      run(async ([shell], _options, ctx) => {
        const flags = (options: typeof cli.globalCommand.options) =>
          options.map((o) => ({
            flag: o.rawName.match(/--[\w-]+/g)?.pop() ?? `--${o.name}`,
            description: o.description,
            takesValue: o.rawName.includes("<"),
          }));
        const commands = cli.commands
          .filter((c) => c.name !== "completions")
          .map((c) => ({ name: c.name, description: c.description, options: flags(c.options) }));
        ctx.output.raw(completionScript(String(shell), commands, flags(cli.globalCommand.options)));
        return 0;
      }, args),
    );

  cli.option("-v, --version", "Print the version and the runtime");
  cli.help((sections) => tidyHelp(sections));
  return cli;
}

export interface MainOptions {
  /** Aborted on Ctrl+C / SIGTERM: servers stop cleanly. */
  signal?: AbortSignal;
  /** Where output goes (default: file descriptors 1 and 2); tests capture it here. */
  stdout?: TextSink;
  stderr?: TextSink;
}

/** Run sockdemo with `argv` (without the runtime and script). Resolves to the exit code. */
export async function main(argv: string[], io: MainOptions = {}): Promise<number> {
  const signal = io.signal ?? new AbortController().signal;
  const out = io.stdout ?? stdoutSink;
  const usage = async (message: string, hint = "see sockdemo --help") => {
    const errorOutput = await Output.create({ json: argv.includes("--json"), quiet: false, ...io });
    errorOutput.reporter("demo").error({ code: "EUSAGE", message }, hint);
    await errorOutput.flush();
    return 2;
  };
  const printVersion = () => {
    out.write(versionLine());
    return 0;
  };

  if (isVersionRequest(argv)) return printVersion();

  // `--port -1` would reach the parser as an unknown flag "-1": glue a negative number to the
  // option before it, so the option's own check explains what is wrong with the value.
  const glued: string[] = [];
  for (const arg of argv) {
    const previous = glued.at(-1);
    if (previous && /^--[a-z-]+$/.test(previous) && /^-\d/.test(arg))
      glued[glued.length - 1] = `${previous}=${arg}`;
    else glued.push(arg);
  }
  argv = glued;

  // cac drops options named __proto__, constructor or prototype without a word (its guard
  // against prototype pollution) and nests dotted ones (`--json.x` became { x: true }), so
  // such a flag was ignored: `tcp-server --constructor` ran as if nothing were wrong.
  // `--_` lands in mri's own list of positional arguments: tcp-client ignored it, and
  // `ports --_` read the port "true". Three dashes or more are no option at all, but mri
  // dropped `---` and read `---x` as -x.
  // And mri reads `-Uvx` as -U -v -x: a v or h anywhere in a group printed the version or
  // help and exited 0 (`--host -Uv/x`). -h and -v are the only short options there are.
  const misread = beforeOptionsEnd(argv).find((arg) => {
    if (/^-[^-]/.test(arg)) return arg !== "-h" && arg !== "-v";
    if (arg.startsWith("---")) return true;
    const name = /^--([^=]+)/.exec(arg)?.[1]?.replace(/^no-/, "");
    return (
      name?.includes(".") || ["__proto__", "constructor", "prototype", "_"].includes(name ?? "")
    );
  });
  if (misread) return usage(`unknown option "${misread.split("=")[0]}"`);

  let pending: Promise<number> | undefined;
  const cli = buildCli(argv, (action, args) => {
    const options = args[args.length - 1] as Options;
    // A flag given twice (`--json --json`) reaches us as [true, true], which every
    // `=== true` check read as off: `--explain --explain` turned the narration off.
    for (const [key, value] of Object.entries(options)) {
      if (Array.isArray(value) && value.every((v) => typeof v === "boolean"))
        options[key] = value.at(-1);
    }
    // mri turns a word that follows a flag into a number (`udp-client --json 007` sent "7",
    // `ports --hex 0x10` explained port 16): put such words back as they were typed.
    const typed = typedPositionals(argv, [
      ...cli.globalCommand.options,
      ...(cli.matchedCommand?.options ?? []),
    ]).slice(1); // the first word is the command's name
    if (typed.length === cli.args.length) {
      const asTyped = (value: unknown, at: number) =>
        typeof value === "number" && Number(typed[at]) === value ? typed[at] : value;
      for (const [index, spec] of (cli.matchedCommand?.args ?? []).entries()) {
        args[index] = spec.variadic
          ? (args[index] as unknown[]).map((value, k) => asTyped(value, index + k))
          : asTyped(args[index], index);
      }
    }
    // Arguments after `--` are positional (`udp-client -- -x` sends "-x"); cac keeps them
    // aside in options["--"], where they were silently dropped.
    const rest = [...((options["--"] as string[] | undefined) ?? [])];
    for (const [index, spec] of (cli.matchedCommand?.args ?? []).entries()) {
      if (spec.variadic) args[index] = [...((args[index] as string[]) ?? []), ...rest.splice(0)];
      else if (args[index] === undefined && rest.length > 0) args[index] = rest.shift();
    }
    if (rest.length > 0)
      throw new UsageError(`unused args: ${rest.map((arg) => `"${arg}"`).join(", ")}`);
    const explain = options.explain === true ? pickLang(langOption(argv, options), env) : undefined;
    pending = (async () => {
      const output = await Output.create({
        json: options.json === true,
        quiet: options.quiet === true,
        hex: options.hex === true,
        explain,
        ...io,
      });
      const role = (cli.matchedCommandName ?? "demo") as Parameters<Output["reporter"]>[0];
      const report = output.reporter(role);
      let runtime: SocketRuntime | undefined;
      try {
        runtime = await selectRuntime().catch((error: Error) => {
          throw new UsageError(error.message.replace(/^sockdemo: /, ""));
        });
        const ctx: CommandContext = {
          runtime,
          output,
          signal,
          version: VERSION,
          runtimeLabel: `${hostVersion()}, ${runtime.name} adapter`,
        };
        return await action(args.slice(0, -1) as string[], options, ctx);
      } catch (error) {
        if (error instanceof UsageError) {
          report.error({ code: "EUSAGE", message: error.message }, `see sockdemo ${role} --help`);
          return 2;
        }
        if (error instanceof SocketError && runtime) {
          const requestedHost = rawOption(argv, "host", options.host);
          const closer = await diagnose(error, runtime, requestedHost).catch(() => undefined);
          report.error(error, closer ?? hintFor(error, role.startsWith("udp") ? "udp" : "tcp"));
          return 1;
        }
        const message = error instanceof Error ? error.message : String(error);
        report.error(
          { code: "EINTERNAL", message: `unexpected error: ${message}` },
          "please report this",
        );
        return 1;
      } finally {
        await output.flush();
      }
    })();
  });

  try {
    cli.parse(["sockdemo", "sockdemo", ...argv], { run: false });
    const flagged = valueOnFlag(argv, [
      ...cli.globalCommand.options,
      ...(cli.matchedCommand?.options ?? []),
    ]);
    if (flagged) throw new Error(flagged);
    if (cli.options.help) return 0;
    if (cli.options.version) return printVersion();
    if (!cli.matchedCommand) {
      if (cli.args.length > 0) return usage(`unknown command "${cli.args[0]}"`);
      // `sockdemo --bogus` is a mistake like `sockdemo tcp-server --bogus`, not a request for help.
      cli.globalCommand.checkUnknownOptions();
      cli.outputHelp();
      return 0;
    }
    cli.runMatchedCommand();
  } catch (error) {
    // cac reports unknown options, missing values and extra arguments by throwing.
    const message = error instanceof Error ? error.message.replaceAll("`", '"') : String(error);
    const command = cli.matchedCommandName;
    return usage(
      message.charAt(0).toLowerCase() + message.slice(1),
      `see sockdemo ${command ?? ""} --help`.replace("  ", " "),
    );
  }
  return pending ?? 0;
}
