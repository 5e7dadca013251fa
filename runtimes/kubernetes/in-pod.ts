/**
 * The member's files on Kubernetes: the few shell programs kdflow runs inside a member's container
 * through exec to write, unpack and read them (script runs are runtimes/script/, on `exec`). Each is a constant:
 * names, paths and argv reach it only as positional parameters, never as shell text. The first
 * parameter is always `<namespace>/<pod>`: when KDFLOW_ROOT_PREFIX is set (only by the kwok test
 * harness, whose "containers" share one host) every path moves under `$KDFLOW_ROOT_PREFIX/<ns>/<pod>`,
 * so two fake pods never share /opt/guestconfig. In a real pod the prefix is empty.
 */
const PREFIX = 'r=${KDFLOW_ROOT_PREFIX:+$KDFLOW_ROOT_PREFIX/$1}; shift; g=$r/opt/guestconfig; k=$g/.kdflow';

export const IN_POD = {
  /** writeFile KEY PATH MODE DIRMODE SIZE < content. Reads exactly SIZE bytes, so stdin EOF is not needed. */
  writeFile: `${PREFIX}
f=$r$1; d=$(dirname "$f")
mkdir -p "$d" && chmod "$3" "$d" && head -c "$4" > "$f.tmp" && chmod "$2" "$f.tmp" && mv -f "$f.tmp" "$f"`,

  /**
   * installPackage KEY SIZE < tgz. The archive was verified entry by entry before it got here. tar runs
   * as root in most images, where it would keep setuid/setgid bits: those and sticky bits are removed
   * (chmod -R skips symlinks met on the way, and the package's own links point inside it).
   */
  installPackage: `${PREFIX}
mkdir -p "$g" && head -c "$1" | tar -xzf - -C "$g" --no-same-owner --no-same-permissions && chmod -R ug-s,-t "$g"`,

  /**
   * installImagePackage KEY PATH: a package that is a file of the member's own image (KubeDirector's
   * file:// rule, docs/adr/0045), unpacked as installPackage does; exit 3 when the image has no such file.
   */
  installImagePackage: `${PREFIX}
[ -f "$r$1" ] || exit 3
mkdir -p "$g" && tar -xzf "$r$1" -C "$g" --no-same-owner --no-same-permissions && chmod -R ug-s,-t "$g"`,

  /** readTail KEY PATH BYTES: the last BYTES of a file; exit 1 when it is absent. */
  readTail: `${PREFIX}
[ -f "$r$1" ] || exit 1; tail -c "$2" "$r$1"`,

  /** cleanup KEY: only under the harness prefix, where a deleted "pod" leaves its files behind. */
  cleanup: `${PREFIX}
[ -n "$r" ] && rm -rf "$r"; exit 0`,
} as const;

export type InPodProgram = keyof typeof IN_POD;

/**
 * How `Runtime.exec` enters a pod: KEY ARGV... runs ARGV with KDFLOW_MEMBER_ROOT set to the pod's root
 * (the harness prefix; empty in a real pod), as every in-member program expects.
 */
export const ENTER = `r=\${KDFLOW_ROOT_PREFIX:+$KDFLOW_ROOT_PREFIX/$1}; shift
KDFLOW_MEMBER_ROOT=$r; export KDFLOW_MEMBER_ROOT
cd "\${r:-/}" && exec "$@"`;

/** The exec argv for a program: `sh -c PROGRAM kdflow KEY ARG...`. */
export function inPodCommand(program: InPodProgram, key: string, args: (string | number)[]): string[] {
  return ['sh', '-c', IN_POD[program], 'kdflow', key, ...args.map(String)];
}
