"""read_yaml: libyaml's parser where PyYAML has it, the same data, lines and errors as the pure-Python one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.errors import SpecError
from evalkit.spec import loading
from evalkit.spec.loading import read_yaml

ROOT = Path(__file__).parent.parent.parent
SPEC_FILES = sorted(
    [*ROOT.glob("problems/*.yaml"), *ROOT.glob("rubrics/*.yaml"), *ROOT.glob("tests/fixtures/**/*.yaml")]
)
SPEC_FILES = [p for p in SPEC_FILES if p.name != "problem_not_utf8.yaml"]  # read_yaml stops before parsing


def _pure(path: Path) -> tuple[object, dict[object, int]] | str:
    try:
        return loading._parse(path, path.read_text(encoding="utf-8"), yaml.SafeLoader)
    except SpecError as err:
        return str(err)


def _read(path: Path) -> tuple[object, dict[object, int]] | str:
    try:
        return read_yaml(path)
    except SpecError as err:
        return str(err)


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    if getattr(yaml, "__with_libyaml__", False):
        assert loading._Loader is yaml.CSafeLoader
    else:
        assert loading._Loader is yaml.SafeLoader


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_reads_as_the_pure_python_loader_reads_it(path: Path) -> None:
    assert _read(path) == _pure(path)


def test_an_invalid_file_has_the_pure_python_loaders_message_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("id: q\nparts:\n  - id: a\n\tprompt: x\n")
    with pytest.raises(SpecError) as err:
        read_yaml(path)
    assert str(err.value) == f"{path}:4: invalid YAML: found character '\\t' that cannot start any token"


def test_a_file_is_parsed_once_per_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = loading._parse

    def counting(path: Path, text: str, loader: object) -> object:
        parsed.append(text)
        return real(path, text, loader)

    monkeypatch.setattr(loading, "_parse", counting)
    path = tmp_path / "p.yaml"
    path.write_text("id: q\ntitle: one\n")
    assert read_yaml(path) == ({"id": "q", "title": "one"}, {(): 1, ("id",): 1, ("title",): 2})
    assert read_yaml(path)[0] == {"id": "q", "title": "one"}
    assert len(parsed) == 1
    path.write_text("id: q\n\ntitle: two\n")  # a changed file is read again, with its new lines
    assert read_yaml(path) == ({"id": "q", "title": "two"}, {(): 1, ("id",): 1, ("title",): 3})
    path.write_text("id: q\ntitle: [\n")  # and an error in it is reported, never an older parse
    with pytest.raises(SpecError, match=r"p\.yaml:\d+: invalid YAML"):
        read_yaml(path)
    path.write_text("id: q\ntitle: one\n")
    assert read_yaml(path)[0] == {"id": "q", "title": "one"}
    # the invalid text was parsed twice where libyaml is used: by it, then by PyYAML for the message
    assert len(parsed) == (3 if loading._Loader is yaml.SafeLoader else 4)
