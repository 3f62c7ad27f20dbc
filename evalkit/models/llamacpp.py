"""A llama.cpp server on 127.0.0.1 for one run: started when first needed, stopped on every exit path.

:class:`LlamaServer` runs ``llamacpp_main.py`` (llama.cpp's OpenAI-compatible server, from the
``xllamacpp`` wheel) in a child process of its own session, so a Ctrl-C in the terminal reaches
evalkit, which then stops it. How it cannot outlive evalkit:

- a clean stop (the run ends, ``aclose``, an exception, Ctrl-C, or SIGTERM, which the CLI turns
  into KeyboardInterrupt) closes the child's stdin, then sends SIGTERM, then SIGKILL;
- an ``atexit`` hook does the same for a process that exits without closing its models;
- if evalkit itself is killed (SIGKILL, a segfault), the child sees its stdin close and exits,
  and on Linux the kernel sends it SIGKILL (``PR_SET_PDEATHSIG``).

The child gets the environment without credentials, and its log (llama.cpp's stderr) goes to a
temporary file that is deleted after a clean stop and named in the error if it fails.

Example::

    server = LlamaServer(Path("model.gguf"), alias="smollm2", ctx=8192, parallel=2, threads=2)
    url = await server.start()        # "http://127.0.0.1:PORT"; raises ModelError if it cannot
    ...
    server.stop()
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from evalkit.errors import ModelError

__all__ = ["SERVER_SCRIPT", "LlamaServer", "server_version"]

SERVER_SCRIPT = Path(__file__).with_name("llamacpp_main.py")
START_TIMEOUT_S = 300.0  # loading a large GGUF from a slow disk
_SECRET_ENV = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)


def server_version() -> str | None:
    """The installed ``xllamacpp`` version (the llama.cpp build), or None if it is not installed."""
    import importlib.metadata

    try:
        return importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return None


class LlamaServer:
    """One llama.cpp server process; :meth:`start` is idempotent, :meth:`stop` is safe to call any time."""

    def __init__(self, model: Path, *, alias: str, ctx: int, parallel: int, threads: int) -> None:
        self.model, self.alias = model, alias
        self.ctx, self.parallel, self.threads = ctx, parallel, threads
        self.url: str | None = None
        self.n_ctx_train: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._keep_log = False  # an error named the log: it stays

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def exited(self) -> int | None:
        """The exit code if the process has ended (None while it runs or before it started)."""
        return self._proc.poll() if self._proc is not None else None

    def command(self) -> list[str]:
        # -P: the script's directory (evalkit/models) is not put on sys.path
        return [
            sys.executable,
            "-P",
            str(SERVER_SCRIPT),
            "--model",
            str(self.model),
            "--alias",
            self.alias,
            "--ctx",
            str(self.ctx),
            "--parallel",
            str(self.parallel),
            "--threads",
            str(self.threads),
            "--parent",
            str(os.getpid()),
        ]

    async def start(self) -> str:
        """Start the server and wait until it answers ``/health``; its base URL (no ``/v1``)."""
        if self.url is not None:
            return self.url
        fd, log = tempfile.mkstemp(prefix="evalkit-llamacpp-", suffix=".log")
        self._log = Path(log)
        env = {k: v for k, v in os.environ.items() if not _SECRET_ENV.search(k)}
        with os.fdopen(fd, "wb") as log_file:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=env,
                start_new_session=True,  # the terminal's Ctrl-C goes to evalkit, which stops the server
            )
        atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            url = await self._listening(deadline)
            await self._healthy(url, deadline)
        except BaseException:
            self.stop()
            raise
        self.url = url
        return url

    async def _listening(self, deadline: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(self._proc.stdout.readline), max(deadline - time.monotonic(), 0.1)
            )
        except TimeoutError:
            raise self.failure(f"did not start within {START_TIMEOUT_S:g}s") from None
        try:
            url = str(json.loads(line)["listening"])
        except (ValueError, KeyError, TypeError):
            self._proc.wait(timeout=10)
            raise self.failure("exited while starting") from None
        return url.rstrip("/")

    async def _healthy(self, url: str, deadline: float) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                if self.exited() is not None:
                    raise self.failure("exited while loading the model")
                try:
                    response = await client.get(f"{url}/health")
                    if response.status_code == 200:
                        props = await client.get(f"{url}/v1/models")
                        self.n_ctx_train = _n_ctx_train(props)
                        return
                except httpx.HTTPError:
                    pass  # not listening yet, or still loading
                if time.monotonic() > deadline:
                    raise self.failure(f"was not ready within {START_TIMEOUT_S:g}s")
                await asyncio.sleep(0.1)

    def failure(self, what: str) -> ModelError:
        """A one-line error: what happened, llama.cpp's last words, and where its log is."""
        code = self.exited()
        status = f" (exit code {code})" if code is not None else ""
        self._keep_log = True
        said = _last_words(self._log)
        where = f"; its log: {self._log}" if self._log is not None else ""
        return ModelError(f"the local llama.cpp server {what}{status}{': ' + said if said else ''}{where}")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close its stdin (it exits by itself), then SIGTERM, then SIGKILL; wait until it is gone."""
        proc = self._proc
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(timeout=timeout_s)
            except (OSError, subprocess.TimeoutExpired):
                proc.terminate()
                try:
                    proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        if self._log is not None and not self._keep_log:
            self._log.unlink(missing_ok=True)
        self.url = None


def _n_ctx_train(response: httpx.Response) -> int | None:
    try:
        return int(response.json()["data"][0]["meta"]["n_ctx_train"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _last_words(log: Path | None, limit: int = 240) -> str:
    """The last error-looking line of the server's log (or its last line)."""
    if log is None:
        return ""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if re.search(r"\berror\b|failed|exception", line, re.IGNORECASE)]
    chosen = (errors or lines or [""])[-1]
    return chosen if len(chosen) <= limit else chosen[: limit - 1] + "…"
