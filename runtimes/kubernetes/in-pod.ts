/**
 * The few shell programs kdflow runs inside a member's container through exec. Each is a constant:
 * names, paths and argv reach it only as positional parameters, never as shell text. The first
 * parameter is always `<namespace>/<pod>`: when KDFLOW_ROOT_PREFIX is set (only by the kwok test
 * harness, whose "containers" share one host) every path moves under `$KDFLOW_ROOT_PREFIX/<ns>/<pod>`,
 * so two fake pods never share /opt/guestconfig. In a real pod the prefix is empty.
 */
const PREFIX = 'r=${KDFLOW_ROOT_PREFIX:+$KDFLOW_ROOT_PREFIX/$1}; shift; g=$r/opt/guestconfig; k=$g/.kdflow';

// A zombie still answers kill -0 when PID 1 does not reap it, so the state in /proc decides.
const ALIVE =
  'alive() { kill -0 "$1" 2>/dev/null || return 1; s=$(sed "s/.*) //" "/proc/$1/stat" 2>/dev/null); [ "${s%% *}" != Z ]; }';

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
   * runStart KEY EVENT RUN_ID TIMEOUT ARG...: prints "recorded" (this run id already exited 0),
   * "running" (a runner for this run id is alive: wait for it), or "started". Exit 3: no startscript.
   */
  runStart: `${PREFIX}
${ALIVE}
ev=$1 run=$2 t=$3; shift 3
st=$g/$ev.status; pidf=$k/$ev.running
if [ "$(cat "$st" 2>/dev/null)" = "$run=0" ]; then echo recorded; exit 0; fi
if [ -f "$pidf" ]; then read -r line < "$pidf"; case $line in "$run="*) if alive "\${line#*=}"; then echo running; exit 0; fi;; esac; fi
s=; for c in "$g"/*/startscript; do [ -f "$c" ] && s=$c && break; done
[ -n "$s" ] || { echo "no */startscript in /opt/guestconfig" >&2; exit 3; }
# As KubeDirector: chmod u+x, and bash for a script without a shebang (runtimes/startscript.ts).
[ -x "$s" ] || chmod u+x "$s"; b=; [ "$(head -c 2 "$s")" = "#!" ] || b=$(command -v bash || echo sh)
mkdir -p "$k" && rm -f "$st" || exit 4
export KDFLOW_MEMBER_ROOT="\${r:-/}" CONFIGMETA="$r/etc/guestconfig/configmeta.json" GUESTCONFIG_DIR="$g" KDFLOW_RUN_ID="$run"
# The configcli helpers first on the PATH, and at /usr/bin/bd_vcli where the image lets us (never under the harness prefix).
export PATH="$g/.kdflow/bin:$PATH"; [ -n "$r" ] || [ -e /usr/bin/bd_vcli ] || ln -s "$g/.kdflow/bin/ccli" /usr/bin/bd_vcli 2>/dev/null
cd "\${r:-/}" || exit 4
sid=; command -v setsid >/dev/null 2>&1 && sid=setsid
# The runner outlives this exec (closing the socket does not stop it) and records its own exit code.
$sid sh -c 'st=$1 run=$2 out=$3 err=$4 t=$5; shift 5
timeout -k 10 "$t" "$@" > "$out" 2> "$err" < /dev/null; code=$?
printf "%s=%s\\n" "$run" "$code" > "$st.tmp" && mv -f "$st.tmp" "$st"' kdflow-run "$st" "$run" "$g/$ev.stdout" "$g/$ev.stderr" "$t" $b "$s" "$@" < /dev/null > /dev/null 2>&1 &
echo "$run=$!" > "$pidf"
echo started`,

  /**
   * runWait KEY EVENT RUN_ID: blocks until the run records its exit, then prints "exit=N"; prints
   * "vanished" when the runner died without a record. Dots keep an idle stream from being closed.
   */
  runWait: `${PREFIX}
${ALIVE}
ev=$1 run=$2; st=$g/$ev.status; pidf=$k/$ev.running; n=0
while :; do
  line=$(cat "$st" 2>/dev/null); case $line in "$run="*) echo "exit=\${line#*=}"; exit 0;; esac
  p=; if [ -f "$pidf" ]; then read -r pl < "$pidf"; case $pl in "$run="*) p=\${pl#*=};; esac; fi
  if [ -z "$p" ] || ! alive "$p"; then
    line=$(cat "$st" 2>/dev/null); case $line in "$run="*) echo "exit=\${line#*=}"; exit 0;; esac
    echo vanished; exit 0
  fi
  n=$((n+1)); [ $((n % 25)) -eq 0 ] && printf .
  sleep 0.2
done`,

  /** runKill KEY EVENT RUN_ID CODE: stops the run's process group and records CODE for it. */
  runKill: `${PREFIX}
ev=$1 run=$2 code=$3; st=$g/$ev.status; pidf=$k/$ev.running
[ -f "$pidf" ] || exit 0; read -r pl < "$pidf"; case $pl in "$run="*) p=\${pl#*=};; *) exit 0;; esac
kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; sleep 2; kill -KILL -- "-$p" 2>/dev/null
printf "%s=%s\\n" "$run" "$code" > "$st.tmp" && mv -f "$st.tmp" "$st"`,

  /** readTail KEY PATH BYTES: the last BYTES of a file; exit 1 when it is absent. */
  readTail: `${PREFIX}
[ -f "$r$1" ] || exit 1; tail -c "$2" "$r$1"`,

  /** cleanup KEY: only under the harness prefix, where a deleted "pod" leaves its files behind. */
  cleanup: `${PREFIX}
[ -n "$r" ] && rm -rf "$r"; exit 0`,
} as const;

export type InPodProgram = keyof typeof IN_POD;

/** The exec argv for a program: `sh -c PROGRAM kdflow KEY ARG...`. */
export function inPodCommand(program: InPodProgram, key: string, args: (string | number)[]): string[] {
  return ['sh', '-c', IN_POD[program], 'kdflow', key, ...args.map(String)];
}
