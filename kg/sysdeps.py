"""Install the Debian packages the project needs, when they are missing (used by ``make``).

Standard library only: it runs before the Python packages are installed. Packages already present
are not touched; missing ones are installed with ``apt-get`` (through ``sudo`` when not root).

Exit codes: 0 all present or installed; 2 missing and cannot be installed here (the message names
the packages and the command to run).

Examples
--------
>>> missing(["definitely-not-a-debian-package-name"], query=lambda name: False)
['definitely-not-a-debian-package-name']
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

__all__ = ["installed", "main", "missing"]


def installed(name: str) -> bool:
    """Whether the Debian package ``name`` is installed (dpkg says ``install ok installed``)."""
    if shutil.which("dpkg-query") is None:
        return False
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True, check=False)
    return done.returncode == 0 and done.stdout.strip().endswith("installed")


def missing(names: Sequence[str], *, query: Callable[[str], bool] = installed) -> list[str]:
    """The packages of ``names`` that are not installed, in order."""
    return [n for n in names if not query(n)]


def main(argv: Sequence[str] | None = None) -> int:
    """Install the missing packages of ``argv``; return the exit code."""
    names = list(sys.argv[1:] if argv is None else argv)
    todo = missing(names)
    if not todo:
        print(f"system packages present: {' '.join(names)}", file=sys.stderr)
        return 0
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo]
    if shutil.which("apt-get") is None:
        print(f"kg: error: missing system packages {', '.join(todo)} and no apt-get here; "
              f"install them with your system's package manager", file=sys.stderr)
        return 2
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            print(f"kg: error: missing system packages {', '.join(todo)}; as root run: {' '.join(command)}",
                  file=sys.stderr)
            return 2
        prefix = ["sudo"]
    print(f"installing system packages: {' '.join(todo)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], command):
        if subprocess.run(prefix + step, env=env, check=False).returncode != 0:
            print(f"kg: error: '{' '.join(prefix + step)}' failed; the packages {', '.join(todo)} are needed "
                  f"(run it by hand to see why)", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
