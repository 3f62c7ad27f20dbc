"""The llama.cpp server process that :class:`evalkit.models.llamacpp.LlamaServer` starts for a local model.

Run as a script (``python -P llamacpp_main.py --model FILE ...``), never imported by evalkit:
it needs only the standard library and ``xllamacpp``. It loads the model, listens on
127.0.0.1 on a port the kernel picks, prints one JSON line ``{"listening": URL}`` on stdout,
and serves until its stdin closes. Its stdin is a pipe from the evalkit process that started
it, so it closes however that process ends (a clean stop, a crash, SIGKILL); on Linux the
kernel also sends it SIGKILL when that process dies. The server never outlives evalkit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys


def _die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="llamacpp_main.py")
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--ctx", type=int, required=True, help="context tokens per slot")
    parser.add_argument("--parallel", type=int, required=True, help="slots (conversations at once)")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="the pid of the evalkit process")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}  # a set of names; a plain string would be read as its letters
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the kernel picks a free port; listening_address says which
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel  # llama.cpp splits n_ctx evenly between the slots
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    try:
        server = xllamacpp.Server(params)
    except Exception as err:  # a file llama.cpp cannot load: say so on stderr (the log evalkit quotes)
        print(f"error: llama.cpp could not start: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps({"listening": server.listening_address}), flush=True)
    sys.stdin.buffer.read()  # until evalkit closes the pipe, or exits
    sys.stderr.flush()
    os._exit(0)  # the kernel frees the model and the KV cache at once; no orderly teardown needed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
