#!/bin/sh
# Runs one startscript and records its exit, even if the worker that started it dies: the status
# file is what makes a retried activity return the earlier result instead of running twice.
# Usage: local-run.sh STATUS_FILE RUN_ID STDOUT STDERR SCRIPT [ARG...]   (no argument is ever evaluated)
# The work is done by local-run.pl beside it, which can tell an exit code from a signal (ADR 0015).
# Without perl, this shell does it, and a script killed by signal N is recorded as exit 128+N.
if command -v perl >/dev/null 2>&1; then
  exec perl -- "${0%.sh}.pl" "$@"
fi
status=$1 run_id=$2 out=$3 err=$4
shift 4
"$@" >"$out" 2>"$err" </dev/null
code=$?
printf '%s=%s\n' "$run_id" "$code" >"$status.tmp" && mv -f "$status.tmp" "$status"
exit "$code"
