/**
 * A script that exits 0 while its stderr says a command or file was missing most likely did not do
 * its job: a configure whose `configcli` or `python` is absent still "succeeds" when that line is not
 * the script's last. kdflow keeps KubeDirector's rule (exit 0 is configured) and says so with a
 * warning in `kdflow get`, `kdflow history` and the Web UI (docs/adr/0028). These are the patterns,
 * matched line by line on the stderr tail; the first match is the warning.
 */
export const SUSPICIOUS_STDERR: readonly RegExp[] = [
  // sh, bash, dash, zsh, busybox: "x: command not found", "x: not found", "sh: 1: x: not found"
  /: (command )?not found$/,
  // A missing file or directory, from the shell or from a program (cat, cp, source, python).
  /No such file or directory/,
  // A script or program that exists but cannot run.
  /: Permission denied$/,
  /cannot execute( binary file)?/,
  // Python and Perl modules a script imports.
  /^ModuleNotFoundError: /,
  /^ImportError: /,
  /^Can't locate \S+ in @INC/,
];

/** The first suspicious stderr line of a run that exited 0, or undefined. */
export function suspiciousLine(stderrTail: string): string | undefined {
  for (const raw of stderrTail.split('\n')) {
    const line = raw.trim();
    if (line && SUSPICIOUS_STDERR.some((pattern) => pattern.test(line))) return line;
  }
  return undefined;
}
