/** `imagehouse completion bash`: a completion script generated from the command table, so it never drifts. */
import { EXIT, type Command } from '../command.ts';

const GLOBAL_FLAGS = ['--help', '--json', '--profile', '--region', '--endpoint'];

function flagsOf(c: Command): string[] {
  return [...new Set([...(c.usage.match(/--[a-z][a-z0-9-]*/g) ?? []), ...GLOBAL_FLAGS])].sort();
}

export function bashCompletion(commands: Command[]): string {
  const tops = [...new Set(commands.map((c) => c.path[0]))].sort();
  const subs = new Map<string, string[]>();
  for (const c of commands) if (c.path.length > 1) subs.set(c.path[0], [...(subs.get(c.path[0]) ?? []), c.path[1]]);
  const cases = [...subs].map(([top, words]) => `    ${top}) words="${[...new Set(words)].sort().join(' ')}" ;;`);
  const flagCases = commands.map((c) => `    "${c.path.join(' ')}") flags="${flagsOf(c).join(' ')}" ;;`);
  return `# bash completion for imagehouse; load with: source <(imagehouse completion bash)
_imagehouse() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words="" flags="" path=""
  local i n=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) if ((n < 2)); then path="\${path:+$path }\${COMP_WORDS[i]}"; n=$((n + 1)); fi ;; esac
  done
  if [[ "$cur" == --* ]]; then
    case "$path" in
${flagCases.join('\n')}
    *) flags="${GLOBAL_FLAGS.join(' ')}" ;;
    esac
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  if ((n == 0)); then
    COMPREPLY=($(compgen -W "${tops.join(' ')}" -- "$cur"))
  elif ((n == 1)); then
    case "$path" in
${cases.join('\n')}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _imagehouse imagehouse
`;
}

export function completionCommand(commands: () => Command[]): Command {
  return {
    path: ['completion'],
    summary: 'Print a shell completion script (bash)',
    usage: 'imagehouse completion bash\n\nExamples:\n  source <(imagehouse completion bash)\n  imagehouse completion bash > /etc/bash_completion.d/imagehouse',
    async run({ rest }, io) {
      if (rest[0] !== 'bash') {
        io.err('completion: only bash is supported: imagehouse completion bash');
        return EXIT.usage;
      }
      io.out(bashCompletion(commands()));
      return EXIT.ok;
    },
  };
}
