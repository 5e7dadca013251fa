#!/usr/bin/perl
# Runs one startscript and records how it ended, even if the worker that started it dies: the status
# file is what makes a retried activity return the earlier result instead of running twice (ADR 0003).
# Perl, not sh: only a parent's wait status tells "exited 137" from "killed by SIGKILL", and a shell
# folds both into $? = 137 (ADR 0015). perl-base is part of every Debian system.
# Usage: local-run.pl STATUS_FILE RUN_ID STDOUT STDERR COMMAND [ARG...]   (no argument is ever evaluated)
# No `use warnings`: loading it costs more than the rest of the runner.
use strict;

my ($status, $run_id, $out, $err, @command) = @ARGV;
@command or die "usage: local-run.pl STATUS_FILE RUN_ID STDOUT STDERR COMMAND [ARG...]\n";

my $pid = fork;
defined $pid or die "kdflow runner: fork: $!\n";
if ($pid == 0) {
  open(STDIN, '<', '/dev/null') or exit 126;
  open(STDOUT, '>', $out) or exit 126;
  open(STDERR, '>', $err) or exit 126;
  exec { $command[0] } @command;
  print STDERR "kdflow: cannot run $command[0]: $!\n";
  exit 127;
}
waitpid($pid, 0) == $pid or die "kdflow runner: wait: $!\n";
my $wait_status = $?;
my $signal = $wait_status & 127;
my $ended = $signal ? "signal $signal" : $wait_status >> 8;

open(my $fh, '>', "$status.tmp") or die "kdflow runner: $status.tmp: $!\n";
print $fh "$run_id=$ended\n";
close($fh) or die "kdflow runner: $status.tmp: $!\n";
rename("$status.tmp", $status) or die "kdflow runner: $status: $!\n";
exit($signal ? 128 + $signal : $wait_status >> 8);
