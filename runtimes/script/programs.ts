/**
 * The in-member half of the script protocol (docs/adr/0021-one-script-protocol.md): constant POSIX sh
 * programs, the same text on every runtime, run through `Runtime.exec`. Names, paths and argv reach
 * them only as positional parameters, never as shell text. Each finds the member's files under
 * `$KDFLOW_MEMBER_ROOT` (the member's directory on the local runtime and under the kwok harness; empty
 * in a real pod), which every runtime's exec sets.
 *
 * Files, beside the run's output in /opt/guestconfig (`$g`) and in the member's `.kdflow` (`$k`):
 * - `$g/<event>.status`: `<run id>=<how it ended>` (KubeDirector's `<id>=<code>` for an exit), written by
 *   the runner, or by `stop` and by the runner-lost rule: an exit code, `signal N`, `timeout`,
 *   `cancelled`, `runner killed`.
 * - `$k/<event>.running`: `<run id>=<runner pid>`, `<run id>=0` while the runner is about to start.
 *   The pid is as /proc shows it (the host's on the local runtime), so a host `kill` hits the runner.
 * - `$k/<event>.env` (0600): the role's environment for the run (see runEnvironment).
 */

/** Paths, and the helpers every program shares. `run` and `grace` are set by the program first. */
const COMMON = `r=\${KDFLOW_MEMBER_ROOT%/}; mr=\${r:-/}; g=$r/opt/guestconfig; k=\${r:+$r/.kdflow}; k=\${k:-$g/.kdflow}
# Alive: running and not a zombie (a zombie still answers kill -0 where pid 1 does not reap).
alive() { _s=; read -r _s 2>/dev/null < "/proc/$1/stat" || return 1; _s=\${_s##*") "}; [ -n "$_s" ] && [ "\${_s%% *}" != Z ]; }
# The pid a process has in this shell's pid namespace (/proc may be the host's); nothing for one outside it.
depth() { set -- $(grep '^NSpid:' "/proc/$1/status" 2>/dev/null); [ $# -gt 0 ] && shift; echo $#; }
here() { [ -n "$mydepth" ] || mydepth=$(depth self)
  _l=$(grep '^NSpid:' "/proc/$1/status" 2>/dev/null) || { [ "$mydepth" = 0 ] && echo "$1"; return; }
  set -- $_l; shift; [ $# -eq "$mydepth" ] || return 1; for _x; do :; done; echo "$_x"; }
# Every live process of this run: KDFLOW_RUN_ID and KDFLOW_MEMBER_ROOT in its environment, as "procpid:pid".
run_pids() {
  [ -n "$mydepth" ] || mydepth=$(depth self)
  for _f in $(grep -lzxF -e "KDFLOW_RUN_ID=$run" /proc/[0-9]*/environ 2>/dev/null); do
    _p=\${_f#/proc/}; _p=\${_p%/environ}
    grep -qzxF -e "KDFLOW_MEMBER_ROOT=$mr" "$_f" 2>/dev/null && alive "$_p" && _x=$(here "$_p") && echo "$_p:$_x"
  done
}
# Ends the run's processes, setsid and nohup children too: SIGTERM, up to $grace s to go, then SIGKILL
# to whatever a fresh look still finds, until it finds nothing (docs/adr/0015).
end_run() {
  _round=0
  while [ $_round -lt 50 ]; do
    _found=$(run_pids); [ -n "$_found" ] || return 0
    _sig=KILL; _limit=10; [ $_round -eq 0 ] && _sig=TERM && _limit=$((grace * 10))
    for _e in $_found; do kill -s $_sig "\${_e#*:}" 2>/dev/null; done
    _n=0; while [ $_n -lt $_limit ]; do
      _left=; for _e in $_found; do alive "\${_e%%:*}" && _left=1 && break; done
      [ -n "$_left" ] || break; sleep 0.1; _n=$((_n + 1))
    done
    _round=$((_round + 1))
  done
}
# Whether this run is recorded as ended; how, in $was.
ended_as() { was=; _line=; [ -f "$st" ] && read -r _line < "$st"; case $_line in "$run="*) was=\${_line#"$run="} ;; *) return 1 ;; esac; }
record() { printf '%s=%s\\n' "$run" "$1" > "$st.tmp" && mv -f "$st.tmp" "$st"; }
# The result: "\\nkdflow-run STATE OUT_BYTES ERR_BYTES ENDED\\n", then the tails of stdout and stderr.
# An empty output costs no process: most runs of a quiet script print nothing on one stream or both.
report() {
  _sizes=; _tails=
  for _w in out err; do
    _n=0; _f=$g/$ev.std$_w
    if [ -s "$_f" ]; then
      tail -c "$tailb" "$_f" > "$k/$ev.tail-$_w" 2>/dev/null || : > "$k/$ev.tail-$_w"
      _n=$(($(wc -c < "$k/$ev.tail-$_w"))); [ "$_n" -gt 0 ] && _tails="$_tails $_w"
    fi
    _sizes="$_sizes $_n"
  done
  ended_as
  printf '\\nkdflow-run %s%s %s\\n' "$1" "$_sizes" "$was"
  for _w in $_tails; do cat "$k/$ev.tail-$_w"; done
}`;

/**
 * The runner: runs one startscript, enforces its timeout from the run's own start (so a worker that
 * adopts the run cannot restart the clock), and records how it ended. It outlives the worker and the
 * exec that started it (its own session).
 * Usage: kdflow-run STATUS RUN_ID BASE STDOUT STDERR TIMEOUT GRACE WAIT_STATUS SCRIPT N ARG(N)... PREFIX...
 * BASE is `$k/<event>`; WAIT_STATUS the perl program that tells an exit code from a signal and keeps
 * the run's clock ('' for none). Without perl, a watchdog (a subshell and its sleep) keeps the clock.
 */
export const RUNNER = `st=$1 run=$2 base=$3 out=$4 err=$5 t=$6 grace=$7 ws=$8 s=$9; shift 9
${COMMON}
read -r me _ < /proc/self/stat
echo "$run=$me" > "$base.running"
# The script starts in the member's root, as it always has.
cd "$mr" 2>/dev/null
# What an earlier run left: a stale expiry would end this one; an empty .ended reads as none (no rm).
[ ! -e "$base.expired" ] || rm -f "$base.expired"
[ ! -s "$base.ended" ] || : > "$base.ended"
pl=; [ -n "$ws" ] && command -v perl > /dev/null 2>&1 && pl=1
# "$@" is N ARG(N)... PREFIX...; it becomes PREFIX... SCRIPT ARG(N)...
n=$1; shift; set -- "$@" "$s"; i=0; while [ $i -lt "$n" ]; do set -- "$@" "$1"; shift; i=$((i + 1)); done
# The script's environment: the member's, the role's, then the tags that find the run's processes again.
(
  export CONFIGMETA="$r/etc/guestconfig/configmeta.json" GUESTCONFIG_DIR="$g"
  # The configcli helpers (ccli, configmacro, …) first on the PATH (runtimes/guest-tools.ts), and at
  # /usr/bin/bd_vcli where the image lets us (never under a member root).
  export PATH="$g/.kdflow/bin:$PATH"
  [ -n "$r" ] || [ -e /usr/bin/bd_vcli ] || ln -s "$g/.kdflow/bin/ccli" /usr/bin/bd_vcli 2> /dev/null
  # Each variable: a line "NAME LINES", then its value in LINES lines; exported as it is, never parsed.
  if [ -f "$base.env" ]; then
    while IFS=' ' read -r _name _lines; do
      _v=; _i=0
      while [ $_i -lt "$_lines" ] && IFS= read -r _l; do
        [ $_i -gt 0 ] && _v="$_v
"
        _v=$_v$_l; _i=$((_i + 1))
      done
      export "$_name=$_v"
    done < "$base.env"
  fi
  export KDFLOW_MEMBER_ROOT="$mr" KDFLOW_RUN_ID="$run"
  if [ -n "$pl" ]; then exec perl -e "$ws" "$base.ended" "$base.expired" "$run" "$t" "$@"; fi
  exec "$@"
) > "$out" 2> "$err" < /dev/null &
c=$!
# Perl keeps the clock where it runs the script (an alarm): two processes fewer a run than the watchdog.
w=; [ -n "$pl" ] || { ( trap 'kill $sp 2>/dev/null; exit 0' TERM; sleep "$t" & sp=$!; wait $sp; echo "$run" > "$base.expired"; end_run ) > /dev/null 2>&1 & w=$!; }
wait "$c"; code=$?
x=; [ -e "$base.expired" ] && read -r x < "$base.expired"
if [ "$x" = "$run" ]; then
  # The watchdog ends the run itself; perl only marks the expiry, so the run's processes end here.
  if [ -n "$w" ]; then wait "$w"; else end_run; fi
  ended=timeout
else
  [ -z "$w" ] || kill "$w" 2>/dev/null
  ended=$code; [ -s "$base.ended" ] && read -r ended < "$base.ended"
fi
record "$ended"
exit "$code"`;

/**
 * Tells "killed by signal N" from "exited 128+N": a shell folds both into one $?, only the parent's
 * wait status has it. Used where perl exists (perl-base is in every Debian image); elsewhere the
 * runner records 128+N. It keeps the run's clock too: at TIMEOUT seconds it writes the run id to
 * EXPIRED_FILE and exits without waiting (124), and the runner ends the run.
 * Usage: perl -e WAIT_STATUS ENDED_FILE EXPIRED_FILE RUN_ID TIMEOUT COMMAND [ARG...]
 */
export const WAIT_STATUS = `my ($ended, $expired, $run, $t, @c) = @ARGV;
my $pid = fork; defined $pid or exit 126;
if (!$pid) { exec { $c[0] } @c; print STDERR "kdflow: cannot run $c[0]: $!\\n"; exit 127 }
$SIG{ALRM} = sub { if (open(my $fh, '>', $expired)) { print $fh "$run\\n"; close $fh } exit 124 };
alarm $t;
waitpid($pid, 0); alarm 0; my $s = $?; my $sig = $s & 127;
if (open(my $fh, '>', $ended)) { print $fh ($sig ? "signal $sig" : $s >> 8), "\\n"; close $fh }
exit($sig ? 128 + $sig : $s >> 8);`;

/**
 * Start or adopt a run, wait for its end, report it. Usage (stdin: the run's environment file, of
 * ENV_BYTES bytes: an exec stream may never say stdin ended, so exactly that much is read):
 * kdflow-start MODE EVENT RUN_ID TIMEOUT GRACE TAIL_BYTES ENV_BYTES RUNNER WAIT_STATUS BUSY KNOWN N ARG(N)... PREFIX...
 * MODE `start` is an attempt's first exec; `attach` an exec again in the same attempt (its stream
 * dropped), which never starts the run: a runner gone by then is a lost runner. BUSY `1` keeps an idle
 * exec stream busy with dots; `0` where the runtime's streams stay open (the local runtime's pipes).
 * Reports STATE `recorded` (this run id already exited 0: never run twice), `adopted` (its runner
 * was alive, or its end recorded: waited for, not started again) or `started`. Exit 3: no
 * startscript; 4: no place to write.
 * Token requests (docs/adr/0047): while the run goes on, a request of `ccli --tokenwait/--tokenwake`
 * in `$k/tokens/ID.req` that is not answered (`ID.done`) and not among KNOWN (the ids the worker
 * has, space-separated) ends this exec early with STATE `token`: its body is one line per unanswered
 * request, `ID KIND FQDN TOKEN [STATUS]`. The run goes on; the worker answers and attaches again.
 */
export const START = `mode=$1 ev=$2 run=$3 t=$4 grace=$5 tailb=$6 envb=$7 runner=$8 ws=$9; busy=\${10} known=\${11}; shift 11
${COMMON}
# A token request the worker does not know of yet (docs/adr/0047).
tokens_new() {
  [ -d "$k/tokens" ] || return 1
  for _f in "$k"/tokens/*.req; do
    [ -e "$_f" ] || continue
    _id=\${_f##*/}; _id=\${_id%.req}
    [ -e "$k/tokens/$_id.done" ] && continue
    case " $known " in *" $_id "*) ;; *) return 0 ;; esac
  done
  return 1
}
report_tokens() {
  for _f in "$k"/tokens/*.req; do
    [ -e "$_f" ] || continue
    _id=\${_f##*/}; _id=\${_id%.req}
    [ -e "$k/tokens/$_id.done" ] || { _l=; read -r _l < "$_f" && printf '%s %s\n' "$_id" "$_l"; }
  done > "$k/$ev.tokens"
  printf '\nkdflow-run token %s 0 -\n' $(($(wc -c < "$k/$ev.tokens")))
  cat "$k/$ev.tokens"
}
# Nothing here needs a cwd, and a waiter never holds the member's directory.
cd /
st=$g/$ev.status; pidf=$k/$ev.running
# The runner is gone without a record: only it could learn the script's end, so the run ends here.
lost() {
  end_run
  echo "kdflow: the runner of $run was killed; the rest of the run was ended" >> "$g/$ev.stderr"
  record "runner killed"
}
ended_as && [ "$was" = 0 ] && { report recorded; exit 0; }
[ "$mode" = attach ] && ended_as && { report adopted; exit 0; }
p=; [ -f "$pidf" ] && read -r pl < "$pidf" && case $pl in "$run="*) p=\${pl#*=} ;; esac
# "About to start" (0): a starter that died between the two writes may have left a runner nobody knows of.
if [ "$p" = 0 ]; then
  p=; for f in $(grep -lzxF -e kdflow-run /proc/[0-9]*/cmdline 2>/dev/null); do
    q=\${f#/proc/}; q=\${q%/cmdline}
    grep -qzxF -e "$st" "$f" && grep -qzxF -e "$run" "$f" && alive "$q" && p=$q && break
  done
fi
state=
if [ -n "$p" ] && alive "$p" && grep -qzxF -e kdflow-run "/proc/$p/cmdline" && grep -qzxF -e "$run" "/proc/$p/cmdline"; then
  state=adopted
elif [ "$mode" = attach ]; then
  # Read again: a runner that recorded its end and exited since the first look was not lost (an
  # answered token request attaches right as a quick script ends).
  ended_as || lost; report adopted; exit 0
# An earlier attempt of this run id is over, but what it started may not be: it ends before this one starts.
elif [ -n "$p" ]; then end_run
fi
if [ -z "$state" ]; then
  s=; for c in "$g"/*/startscript; do [ -f "$c" ] && s=$c && break; done
  [ -n "$s" ] || { echo "no */startscript in /opt/guestconfig (was the config package installed?)" >&2; exit 3; }
  # As KubeDirector: the exec bit back (chmod u+x), and bash (else sh) for a script without a shebang.
  # The first line read by the shell itself: a process fewer per run than head.
  [ -x "$s" ] || chmod u+x "$s"; b=; _l=; IFS= read -r _l < "$s" 2> /dev/null
  case $_l in '#!'*) ;; *) b=$(command -v bash || echo sh) ;; esac
  { [ -d "$k" ] || mkdir -p "$k"; } && { [ ! -e "$st" ] || rm -f "$st"; } || exit 4
  # No variables: an empty file (the runner must not read an earlier run's), without a head process.
  if [ "$envb" -gt 0 ]; then (umask 077 && head -c "$envb" > "$k/$ev.env") || exit 4
  else (umask 077 && : > "$k/$ev.env") || exit 4; fi
  echo "$run=0" > "$pidf" || exit 4
  sid=; command -v setsid > /dev/null 2>&1 && sid=setsid
  # The shell goes last in PREFIX..., so the runner puts it right before the script.
  [ -n "$b" ] && set -- "$@" "$b"
  $sid sh -c "$runner" kdflow-run "$st" "$run" "$k/$ev" "$g/$ev.stdout" "$g/$ev.stderr" "$t" "$grace" "$ws" "$s" "$@" < /dev/null > /dev/null 2>&1 &
  child=$!; state=started
fi
# Dots keep an idle exec stream from being closed; their sleep goes with them. They end with this
# waiter too when it is killed: a dropped exec stream is, by kwok and some runtimes, a SIGKILL to it alone.
# Parenthood is read from /proc/self, which names pids as /proc does ($$ may be a pid-namespace pid).
# A stream that stays open needs none: two processes fewer a run.
read -r _me _ < /proc/self/stat
dots=
if [ "$busy" = 1 ]; then
  ( trap 'kill $sp 2>/dev/null; exit 0' TERM
    while read -r _ _ _ _pp _ < /proc/self/stat && [ "$_pp" = "$_me" ]; do
      sleep 5 > /dev/null 2>&1 & sp=$!; wait $sp; printf .
    done ) & dots=$!
fi
# A token request interrupts the wait (USR1, sent again until this program ends, so none is missed).
# The watcher ends with this waiter the same way, killed or not (kill -0 would still see it as a zombie).
tok=; trap 'tok=1' USR1
( trap 'kill $sp 2>/dev/null; exit 0' TERM
  while read -r _ _ _ _pp _ < /proc/self/stat && [ "$_pp" = "$_me" ]; do
    sleep 0.2 > /dev/null 2>&1 & sp=$!; wait $sp; tokens_new && kill -s USR1 $$
  done ) & watch=$!
[ "$state" = started ] && [ -z "$tok" ] && wait "$child"
while ! ended_as && [ -z "$tok" ]; do
  p=; [ -f "$pidf" ] && read -r pl < "$pidf" && case $pl in "$run="*) p=\${pl#*=} ;; esac
  if [ "$p" != 0 ] && ! alive "$p"; then
    ended_as || lost
    break
  fi
  sleep 0.2
done
kill $dots "$watch" 2> /dev/null
ended_as || { [ -n "$tok" ] && report_tokens && exit 0; }
report "$state"`;

/**
 * Stop a run: its runner first (so it records nothing), then the rest of the run with the kill grace;
 * records REASON (`cancelled`, `timeout`) and reports. Usage: kdflow-stop EVENT RUN_ID REASON GRACE TAIL_BYTES
 */
export const STOP = `ev=$1 run=$2 why=$3 grace=$4 tailb=$5
${COMMON}
st=$g/$ev.status; pidf=$k/$ev.running
ended_as && { report stopped; exit 0; }
p=; [ -f "$pidf" ] && read -r pl < "$pidf" && case $pl in "$run="*) p=\${pl#*=} ;; esac
if [ -n "$p" ] && [ "$p" != 0 ] && alive "$p" && grep -qzxF -e "$run" "/proc/$p/cmdline"; then
  x=$(here "$p") && kill -s KILL "$x" 2>/dev/null
fi
end_run
ended_as || record "$why"
report stopped`;

/**
 * Answers a token request (docs/adr/0047): `ID.done` holds the answer (`success`, `error`, or a line
 * saying why not), written whole, and only while the request is there (a waiter that timed out
 * removed it). Usage: kdflow-answer ID ANSWER
 */
export const ANSWER = `id=$1 answer=$2
r=\${KDFLOW_MEMBER_ROOT%/}; k=\${r:+$r/.kdflow}; k=\${k:-$r/opt/guestconfig/.kdflow}
case $id in '' | *[!A-Za-z0-9._-]*) echo "kdflow-answer: bad request id" >&2; exit 2 ;; esac
[ -e "$k/tokens/$id.req" ] || exit 0
printf '%s\\n' "$answer" > "$k/tokens/$id.done.tmp" && mv -f "$k/tokens/$id.done.tmp" "$k/tokens/$id.done"`;
