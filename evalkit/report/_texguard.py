"""Runs ``latexmk`` for evalkit and cleans up after it, even when evalkit is killed.

Started as ``python -I -S _texguard.py WORKDIR COMMAND...`` (stdlib only, never
imports evalkit) in a session of its own, with a pipe from evalkit as stdin.
It runs the command in WORKDIR, in a process group of its own, with its output
in ``WORKDIR/latexmk.out``, and prints the exit code when it ends. When stdin
closes — evalkit has collected the PDF, given up at its timeout, or died, even
of SIGKILL — it kills whatever is left of that process group and removes
WORKDIR, which holds the whole transcript.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the command's process group (it is not reaped yet, so its id cannot have been reused)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def main() -> int:
    work, command = sys.argv[1], sys.argv[2:]
    try:
        with open(os.path.join(work, "latexmk.out"), "wb") as out:
            proc = subprocess.Popen(
                command, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        ended = os.pidfd_open(proc.pid)
        while True:
            ready = select.select([0, ended], [], [])[0]
            if ended in ready:
                _kill_group(proc)  # a TeX run it left behind
                sys.stdout.write(f"{proc.wait()}\n")
                sys.stdout.flush()
                while os.read(0, 1 << 16):  # until evalkit is done with the PDF
                    pass
                return 0
            if not os.read(0, 1 << 16):  # evalkit is gone, or gave up: stop TeX
                _kill_group(proc)
                proc.wait()
                return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
