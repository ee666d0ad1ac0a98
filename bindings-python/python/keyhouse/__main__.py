"""`python -m keyhouse …` (and the `keyhouse` script): the keyhouse CLI.

It is the core's CLI, the same program as the Rust binary: the same
commands, output and exit codes. Configuration comes from the environment
(`KEYHOUSE_DB`, `KEYHOUSE_PEPPER`, …), as for the binary.
"""

import sys

from ._native import run_cli


def main() -> None:
    """Runs the CLI with this process's arguments and exits with its code."""
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(run_cli(["keyhouse", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
