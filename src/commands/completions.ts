/**
 * completions: shell completion scripts, generated from the same command and
 * option definitions as --help, so they never drift.
 *
 *   bash: eval "$(sockdemo completions bash)"     (or save to /etc/bash_completion.d/sockdemo)
 *   zsh:  source <(sockdemo completions zsh)          (after compinit)
 *   fish: sockdemo completions fish > ~/.config/fish/completions/sockdemo.fish
 */
import { UsageError } from "./_common.ts";

export interface CommandSpec {
  name: string;
  description: string;
  /** Long option names with their leading dashes, e.g. `--port`. */
  options: { flag: string; description: string; takesValue: boolean }[];
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

const quoteSingle = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

function bash(commands: CommandSpec[], globals: CommandSpec["options"]): string {
  const names = commands.map((c) => c.name).join(" ");
  const cases = commands
    .map(
      (c) => `    ${c.name}) opts="${[...c.options, ...globals].map((o) => o.flag).join(" ")}" ;;`,
    )
    .join("\n");
  return `# bash completion for sockdemo
_sockdemo() {
  local cur=\${COMP_WORDS[COMP_CWORD]} command=\${COMP_WORDS[1]} opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names} --help --version" -- "$cur"))
    return
  fi
  case "$command" in
${cases}
    completions) opts="${SHELLS.join(" ")}" ;;
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _sockdemo sockdemo
`;
}

function zsh(commands: CommandSpec[], globals: CommandSpec["options"]): string {
  const describe = commands.map(
    (c) => `    ${quoteSingle(`${c.name}:${c.description.replaceAll(":", "\\:")}`)}`,
  );
  const spec = (o: CommandSpec["options"][number]) =>
    quoteSingle(
      `${o.flag}[${o.description.replaceAll("[", "(").replaceAll("]", ")")}]${o.takesValue ? ":value:" : ""}`,
    );
  const cases = commands
    .map(
      (c) =>
        `    ${c.name}) _arguments ${[...c.options, ...globals].map(spec).join(" ")} '*::arg:' ;;`,
    )
    .join("\n");
  return `#compdef sockdemo
_sockdemo() {
  local -a commands
  commands=(
${describe.join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case $words[2] in
${cases}
    completions) _values 'shell' ${SHELLS.join(" ")} ;;
  esac
}
compdef _sockdemo sockdemo
`;
}

function fish(commands: CommandSpec[], globals: CommandSpec["options"]): string {
  const lines = ["# fish completion for sockdemo", "complete -c sockdemo -f"];
  for (const c of commands) {
    lines.push(
      `complete -c sockdemo -n __fish_use_subcommand -a ${c.name} -d ${quoteSingle(c.description)}`,
    );
    for (const o of [...c.options, ...globals]) {
      const value = o.takesValue ? " -r" : "";
      lines.push(
        `complete -c sockdemo -n '__fish_seen_subcommand_from ${c.name}' -l ${o.flag.slice(2)}${value} -d ${quoteSingle(o.description)}`,
      );
    }
  }
  lines.push(
    `complete -c sockdemo -n '__fish_seen_subcommand_from completions' -a '${SHELLS.join(" ")}'`,
  );
  return `${lines.join("\n")}\n`;
}

export function completionScript(
  shell: string,
  commands: CommandSpec[],
  globals: CommandSpec["options"],
): string {
  if (shell === "bash") return bash(commands, globals);
  if (shell === "zsh") return zsh(commands, globals);
  if (shell === "fish") return fish(commands, globals);
  throw new UsageError(`completions are available for ${SHELLS.join(", ")}, not "${shell}"`);
}
