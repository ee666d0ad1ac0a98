"""`python -m keyhouse …` (and the `keyhouse` script): the keyhouse CLI.

It is the core's CLI, the same program as the Rust binary: the same
commands, output and exit codes. Configuration comes from the environment
(`KEYHOUSE_DB`, `KEYHOUSE_PEPPER`, …), as for the binary.
"""

import signal
import sys

from ._native import run_cli


def main() -> None:
    """Runs the CLI with this process's arguments and exits with its code."""
    # Ctrl-C ends the command at once, as it ends the binary: Python's own
    # handler would only run after the Rust call returns.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(run_cli(["keyhouse", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
