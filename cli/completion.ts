/**
 * Shell completion scripts, generated from the command table (cli/usage.ts): commands, each
 * command's flags, the fixed values of flags and arguments, and files after -f.
 */
import { COMMAND_SPECS, FLAGS, GLOBAL_FLAGS, shortsFor, type FlagName, type FlagSpec } from './usage.ts';

const flagsOf = (command: string): FlagName[] => [...(COMMAND_SPECS.get(command)?.flags ?? []), ...GLOBAL_FLAGS];
/** -x (when the letter means this flag for `command`; by default, what it means for most) and --name. */
const spellings = (name: FlagName, command?: string): string[] => {
  const flag: FlagSpec = FLAGS[name];
  const short = flag.short && shortsFor(command).get(flag.short) === name ? [`-${flag.short}`] : [];
  return [...short, `--${name}`];
};
const withValue = (Object.keys(FLAGS) as FlagName[]).filter((n) => 'value' in FLAGS[n]);
const commands = [...COMMAND_SPECS.keys()];
/** Commands for which a short letter means another flag than by default (logs: -f is --follow), as [command, letter, flag]. */
const ownShorts = commands.flatMap((c) =>
  [...shortsFor(c)]
    .filter(([short, name]) => shortsFor(undefined).get(short) !== name)
    .map(([short, name]) => [c, short, name] as const),
);

export function bashCompletion(): string {
  const valueCases = withValue.map((n) => {
    const flag: FlagSpec = FLAGS[n];
    const reply =
      n === 'file'
        ? 'COMPREPLY=( $(compgen -f -- "$cur") )'
        : flag.choices
          ? `COMPREPLY=( $(compgen -W "${flag.choices.join(' ')}" -- "$cur") )`
          : 'COMPREPLY=()';
    return `    ${spellings(n).join('|')}) ${reply}; return ;;`;
  });
  const flagCases = commands.map(
    (c) =>
      `    ${c}) flags="${flagsOf(c)
        .flatMap((n) => spellings(n, c))
        .join(' ')}" ;;`,
  );
  // Such a letter is read as the command's flag: "$cmd:-f" becomes --follow before anything looks at it.
  const ownShortCases = ownShorts.map(([c, short, name]) => `    ${c}:-${short}) word=--${name} ;;`);
  const wordCases = commands.flatMap((c) => {
    const words = c === 'help' ? commands : COMMAND_SPECS.get(c)?.words;
    return words ? [`    ${c}) words="${words.join(' ')}" ;;`] : [];
  });
  return `# kdflow completion for bash. Load it with: source <(kdflow completion bash)
_kdflow() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local cmd="" args=0 i=1 flags="" words="" word=""
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word="\${COMP_WORDS[i]}"
    case "$cmd:$word" in
${ownShortCases.join('\n')}
    esac
    case "$word" in
      ${withValue.flatMap((n) => spellings(n)).join('|')}) i=$((i + 2)); continue ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="$word"; else args=$((args + 1)); fi ;;
    esac
    i=$((i + 1))
  done
  word="$prev"
  case "$cmd:$prev" in
${ownShortCases.join('\n')}
  esac
  case "$word" in
${valueCases.join('\n')}
  esac
  if [ -z "$cmd" ]; then
    if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${GLOBAL_FLAGS.flatMap((n) => spellings(n)).join(' ')}" -- "$cur") ); else COMPREPLY=( $(compgen -W "${commands.join(' ')}" -- "$cur") ); fi
    return
  fi
  case "$cmd" in
${flagCases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags" -- "$cur") ); return; fi
  if [ "$args" -eq 0 ]; then
    case "$cmd" in
${wordCases.join('\n')}
    esac
  fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _kdflow kdflow
`;
}

/** An _arguments spec for one flag: exclusive spellings, its help, its values. */
function zshFlag(name: FlagName, command?: string): string {
  const flag: FlagSpec = FLAGS[name];
  const help = flag.help
    .replace(/[[\]':]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const value =
    'value' in flag
      ? `:${flag.value?.toLowerCase()}:${name === 'file' ? '_files' : flag.choices ? `(${flag.choices.join(' ')})` : ' '}`
      : '';
  const names = spellings(name, command);
  return names.length > 1
    ? `'(${names.join(' ')})'{${names.join(',')}}'[${help}]${value}'`
    : `'${names[0]}[${help}]${value}'`;
}

export function zshCompletion(): string {
  const described = commands.map((c) => `    '${c}:${(COMMAND_SPECS.get(c)?.summary ?? '').replace(/[':]/g, ' ')}'`);
  const perCommand = commands.map((c) => {
    const words = c === 'help' ? commands : COMMAND_SPECS.get(c)?.words;
    const first = words ? ` '1:argument:(${words.join(' ')})'` : '';
    // The rest take names no list holds: an empty list, since a bare message would also hide the flags.
    return `        ${c}) _arguments ${flagsOf(c)
      .map((n) => zshFlag(n, c))
      .join(' ')}${first} '*:argument:( )' ;;`;
  });
  return `#compdef kdflow
# kdflow completion for zsh. Install it with: kdflow completion zsh > "\${fpath[1]}/_kdflow", then restart zsh.
_kdflow() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
${described.join('\n')}
  )
  _arguments -C ${GLOBAL_FLAGS.map((n) => zshFlag(n)).join(' ')} '1:command:->command' '*::argument:->argument'
  case $state in
    command) _describe -t commands 'kdflow command' commands ;;
    argument)
      case $words[1] in
${perCommand.join('\n')}
      esac
      ;;
  esac
}
if [ "$funcstack[1]" = "_kdflow" ]; then _kdflow "$@"; else compdef _kdflow kdflow; fi
`;
}
