#!/bin/sh
# Runs one startscript and records its exit code, even if the worker that started it dies:
# the status file is what makes a retried activity return the earlier result instead of running twice.
# Usage: local-run.sh STATUS_FILE RUN_ID STDOUT STDERR SCRIPT [ARG...]   (no argument is ever evaluated)
status=$1 run_id=$2 out=$3 err=$4
shift 4
"$@" >"$out" 2>"$err" </dev/null
code=$?
printf '%s=%s\n' "$run_id" "$code" >"$status.tmp" && mv -f "$status.tmp" "$status"
exit "$code"
