"""The on-disk response cache: never pay twice for the same turn.

A reply is keyed by provider, model, base URL, system prompt, the full
message list, generation parameters and sample index. Only successful replies
are stored (errors raise before ``put``); entries are written atomically, one
file each, so concurrent runs and crashes cannot corrupt the cache.

Example::

    model = CachedModel(resolve_model("claude"), ResponseCache.default(), base_url=None)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import StoreError
from evalkit.models.base import Model, ModelRequest, ModelResponse
from evalkit.store import write_json_atomic

__all__ = ["CacheInfo", "CachedModel", "ResponseCache", "request_key"]


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

    @classmethod
    def default(cls) -> ResponseCache:
        env = os.environ.get("EVALKIT_CACHE_DIR")
        if env:
            return cls(env)
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "evalkit" / "responses")

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}.json"

    def get(self, key: str) -> ModelResponse | None:
        try:
            data = json.loads(self._file(key).read_text(encoding="utf-8"))
            return ModelResponse.from_json(data["response"])
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, KeyError, TypeError):
            return None  # a damaged entry is a miss; it is overwritten on the next put

    def put(self, key: str, response: ModelResponse, meta: dict[str, Any]) -> None:
        write_json_atomic(self._file(key), {"meta": meta, "response": response.to_json()})

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
