"""Applying a model's code fragments to homework code by name."""

from __future__ import annotations

import ast
import textwrap

from evalkit.reference.patch import apply_fragments, assemble_program

BASE = textwrap.dedent(
    """
    import torch


    class Box:
        def __init__(self, n):
            self.n = n
            self.w = torch.zeros(n)

        def scale(self, x):
            out = x * 2
            return out

        def shift(self, x):
            out = x + self.n
            if x.sum() > 0:
                out = out - 1
            return out


    def helper(y):
        return y
    """
)


def _func(source: str, name: str) -> str:
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.unparse(node)


def test_whole_method_replaces_its_namesake_and_later_fragments_win() -> None:
    patched = apply_fragments(
        BASE, ["def scale(self, x):\n    return x * 3", "def scale(self, x):\n    return x * 4"]
    )
    assert "x * 4" in _func(patched.source, "scale") and "x * 3" not in patched.source
    assert [n.applied for n in patched.notes] == [True, True]


def test_function_without_self_replaces_the_top_level_namesake() -> None:
    patched = apply_fragments(BASE, ["def helper(y):\n    return -y"])
    assert "return -y" in _func(patched.source, "helper")


def test_elided_definition_merges_the_statements_it_shows() -> None:
    fragment = "def __init__(self, n):\n    ...\n    self.n = n\n    self.m = 2 * n  # NEW\n    ..."
    patched = apply_fragments(BASE, [fragment])
    init = _func(patched.source, "__init__").splitlines()
    assert init[1:] == ["    self.n = n", "    self.m = 2 * n", "    self.w = torch.zeros(n)"]


def test_elided_definition_takes_the_new_signature_and_replaces_assignments() -> None:
    patched = apply_fragments(BASE, ["def scale(self, x, k=2):\n    ...\n    out = x * k\n    ..."])
    assert _func(patched.source, "scale") == "def scale(self, x, k=2):\n    out = x * k\n    return out"


def test_standalone_assignment_picks_the_most_similar_plausible_site() -> None:
    patched = apply_fragments(BASE, ["out = x + self.n * 10"])
    assert "out = x + self.n * 10" in _func(patched.source, "shift")
    assert "out = x * 2" in _func(patched.source, "scale")


def test_standalone_assignment_reaches_nested_blocks() -> None:
    patched = apply_fragments(BASE, ["self.w = torch.ones(n)"])
    assert "self.w = torch.ones(n)" in _func(patched.source, "__init__")


def test_illustrations_using_undefined_names_are_skipped_with_a_note() -> None:
    patched = apply_fragments(BASE, ["out = x + attention(x)"])
    assert patched.source == apply_fragments(BASE, []).source
    (note,) = patched.skipped
    assert "attention" in note.what and "illustration" in note.what


def test_unparseable_fragments_and_prose_statements_are_skipped() -> None:
    patched = apply_fragments(
        BASE, ["self.w = nn.Linear(d, ____(a)___)", "print(helper(3))", "torch.zeros(3)"]
    )
    assert len(patched.applied) == 0 and len(patched.skipped) == 3
    assert "not Python" in patched.skipped[0].what


def test_new_method_goes_into_the_only_class_and_imports_are_added_once() -> None:
    patched = apply_fragments(
        BASE, ["import math\ndef norm(self, x):\n    return math.sqrt(x)", "import math"]
    )
    tree = ast.parse(patched.source)
    box = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert "norm" in [m.name for m in box.body if isinstance(m, ast.FunctionDef)]
    assert patched.source.count("import math") == 1


def test_assemble_program_keeps_definitions_and_drops_examples() -> None:
    fragments = [
        "import torch\n\ndef f(x):\n    return x + 1\n\nSCALE = 2\nprint(f(torch.ones(2)))",
        "def f(x):\n    return x * SCALE\n\ny = f(torch.ones(2))\nresult = g(y)",
    ]
    program = assemble_program(fragments, "import math\n")
    namespace: dict = {}
    exec(program.source, namespace)
    assert namespace["f"](3) == 6 and namespace["y"].tolist() == [2.0, 2.0]
    assert "print" not in program.source and "result" not in program.source
