"""The on-disk response cache: never pay twice for the same turn.

A reply is keyed by provider, model, base URL, system prompt, the full
message list, generation parameters and sample index. Only successful replies
are stored (errors raise before ``put``); entries are written atomically, one
file each, so concurrent runs and crashes cannot corrupt the cache. An entry
that is damaged anyway (by hand, a disk error, another program) is a miss,
named in a warning, and is replaced by the next ``put``; a cache that cannot be
written is warned about once and the run goes on (the journal keeps the reply).

Example::

    model = CachedModel(resolve_model("claude"), ResponseCache.default(), base_url=None)
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from evalkit.errors import EvalkitError, StoreError
from evalkit.models.base import Model, ModelRequest, ModelResponse
from evalkit.paths import cache_dir
from evalkit.store import write_json_atomic

__all__ = [
    "CACHEABLE_PROVIDERS",
    "CacheInfo",
    "CachedModel",
    "ResponseCache",
    "cache_only",
    "cached",
    "request_key",
]

log = logging.getLogger("evalkit.cache")
MAX_ENTRY_BYTES = 64 << 20
#: providers whose replies are cached (a replay's are recorded already)
CACHEABLE_PROVIDERS = frozenset({"anthropic", "openai", "local"})


class _Response(BaseModel):
    """The fields of a cached ``ModelResponse.to_json`` that must have their type; newer ones pass."""

    model_config = ConfigDict(extra="allow")
    text: StrictStr
    usage: dict[str, StrictInt] = {}
    model: StrictStr = ""
    thinking: StrictStr | None = None
    stop_reason: StrictStr | None = None


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    meta: dict[str, Any] = {}
    response: _Response


def request_key(model: str, base_url: str | None, request: ModelRequest) -> str:
    """A stable hash of everything that determines a reply."""
    payload = {
        "model": model,
        "base_url": base_url or "",
        "system": request.system or "",
        "messages": [m.to_json() for m in request.messages],
        "options": request.options.model_dump(mode="json"),
        "sample": request.sample,
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    entries: int
    bytes: int


class ResponseCache:
    """A directory of cached replies, ``<key[:2]>/<key>.json``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._warned = False

    @classmethod
    def default(cls) -> ResponseCache:
        return cls(cache_dir("responses", "EVALKIT_CACHE_DIR"))

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"

    def get(self, key: str) -> ModelResponse | None:
        """The cached reply, or None: not cached, or a damaged entry (warned about; the next put replaces it)."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_ENTRY_BYTES + 1)
            if len(data) > MAX_ENTRY_BYTES:
                raise ValueError(f"larger than {MAX_ENTRY_BYTES >> 20} MiB")
            return ModelResponse.from_json(_Entry.model_validate_json(data).response.model_dump())
        except FileNotFoundError:
            return None
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
        ) as err:  # ValidationError, UnicodeDecodeError: ValueErrors
            reason = err.strerror if isinstance(err, OSError) else _first_line(err)
            log.warning(
                "ignoring the damaged cache entry %s (%s); the reply is asked for again", path, reason
            )
            return None

    def put(self, key: str, response: ModelResponse, meta: dict[str, Any]) -> None:
        """Store a reply; a cache that cannot be written is warned about (once), not an error."""
        path = self._file(key)
        try:
            if path.is_dir():  # a damaged entry can be an (empty) directory in the file's place
                path.rmdir()
            write_json_atomic(path, {"meta": meta, "response": response.to_json()})
        except OSError as err:
            self._warn(f"cannot replace {path}: {err.strerror}")
        except StoreError as err:
            self._warn(str(err))

    def _warn(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("the response cache is not written: %s", problem)

    def info(self) -> CacheInfo:
        files = list(self.path.glob("*/*.json")) if self.path.is_dir() else []
        return CacheInfo(self.path, len(files), sum(f.stat().st_size for f in files))

    def clear(self) -> int:
        count = self.info().entries
        if self.path.is_dir():
            if not any(self.path.glob("*/*.json")) and any(self.path.iterdir()):
                raise StoreError(f"{self.path} does not look like an evalkit cache; not clearing it")
            shutil.rmtree(self.path)
        return count


def _first_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc']) or 'entry'}: {first['msg']}"
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


class CachedModel:
    """Wraps a model: a cached reply is returned without a call; a new reply is stored."""

    def __init__(self, inner: Model, cache: ResponseCache, base_url: str | None = None) -> None:
        self.inner = inner
        self.cache = cache
        self.base_url = base_url
        self.name = inner.name
        self.provider = inner.provider
        self.hits = 0
        self.misses = 0

    async def generate(self, request: ModelRequest) -> ModelResponse:
        key = request_key(self.name, self.base_url, request)
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        response = await self.inner.generate(request)
        self.cache.put(
            key, response, {"model": self.name, "conv": request.conv, "turn": request.turn.to_json()}
        )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def cached(model: Model, cache: ResponseCache | None, scope: str | None = None) -> Model:
    """``model`` behind ``cache`` (keyed by ``scope``, e.g. its base URL), or itself when there is no
    cache or its provider's replies are not cached."""
    if cache is None or model.provider not in CACHEABLE_PROVIDERS:
        return model
    return CachedModel(model, cache, scope)


class _NotCached:
    """A model that is never called: a request its cache does not answer is an error."""

    provider = "cache"

    def __init__(self, name: str) -> None:
        self.name = name

    async def generate(self, request: ModelRequest) -> ModelResponse:
        raise EvalkitError("its reply to this request is not in the response cache")

    async def aclose(self) -> None:
        return None


def cache_only(name: str, cache: ResponseCache) -> Model:
    """The replies of model ``name`` that ``cache`` holds, and an EvalkitError for any other request:
    what re-grading a judged run asks of its judge, with no client and no key."""
    return CachedModel(_NotCached(name), cache)
