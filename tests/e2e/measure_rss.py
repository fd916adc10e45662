"""Run a command under an address-space cap and write its own peak resident memory to a file.

``python measure_rss.py LIMIT_BYTES OUT_FILE ARGV...``: forks, caps the child's address space,
execs ARGV, reaps it with ``wait4`` and writes its ``ru_maxrss`` (KiB) to OUT_FILE; exits with
the child's status. A child's peak RSS counts the pages it shared with its parent before exec,
so a command forked straight from the test runner (hundreds of MB after collecting the suite)
would be measured as large as the runner; forked from this small process it is measured as
itself.
"""

import os
import resource
import sys


def main() -> int:
    limit, out, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    pid = os.fork()
    if pid == 0:  # the child: cap, then become the command
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w", encoding="ascii") as sink:
        sink.write(str(usage.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
