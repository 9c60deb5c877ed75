"""The keeper of a command attempt: the command's parent, which outlives `runwatch serve`.

It is a few lines of Perl (``perl-base`` is part of every Debian system; it starts in a
few milliseconds where Python takes tens to hundreds): it forks, execs the command in
its own process group, waits for it and writes its exit status to the attempt's status
file (runner.exitstatus). SIGTERM, SIGINT and SIGHUP sent to the group reach the
command; the keeper survives them to record how the command ended. It then exits as
the command did (128 + the signal for a signal). Without Perl, commands run as direct
children of the supervisor, and an attempt whose supervisor dies cannot be adopted.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

SCRIPT = r"""
my $st = shift @ARGV;
$SIG{TERM} = $SIG{INT} = $SIG{HUP} = sub {};
my $pid = fork();
if (!defined $pid) { print STDERR "runwatch: cannot fork: $!\n"; exit 126; }
if ($pid == 0) {
    $SIG{TERM} = $SIG{INT} = $SIG{HUP} = 'DEFAULT';
    exec { $ARGV[0] } @ARGV;
    my $missing = $!{ENOENT};
    print STDERR "cannot run '$ARGV[0]': $!\n";
    require POSIX;
    POSIX::_exit($missing ? 127 : 126);
}
while (waitpid($pid, 0) != $pid) { last unless $!{EINTR}; }
my $s = $?;
my ($code, $sig) = ($s & 127) ? ('-', $s & 127) : ($s >> 8, '-');
unlink("$st.tmp");
if (sysopen(my $f, "$st.tmp", 193, 0600)) {  # O_WRONLY|O_CREAT|O_EXCL: never through a link
    print $f "$code $sig\n";
    rename("$st.tmp", $st) if close($f);
}
exit(($s & 127) ? 128 + ($s & 127) : ($s >> 8));
"""


@cache
def _perl() -> str | None:
    return shutil.which("perl", path="/usr/bin:/bin")


def kept(argv: list[str], status: Path) -> list[str]:
    """``argv`` run under a keeper that writes its exit status to ``status``; ``argv``
    itself when no keeper can be run here."""
    perl = _perl()
    if perl is None:
        return argv
    return [perl, "-e", SCRIPT, str(status), *argv]
