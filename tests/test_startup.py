"""What a command imports before it answers: the kinds it grades, and nothing for commands that grade nothing.

Each case runs in a fresh interpreter (``sys.modules`` of this one holds everything the other tests
imported) and prints the heavy modules it ended up with. Speed itself is measured by bench/cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.checks import base as registry
from evalkit.errors import SpecError

ROOT = Path(__file__).parent.parent
HEAVY = ("torch", "sympy", "evalkit.api", "evalkit.spec.models", "jinja2", "yaml", "anthropic", "openai")


def _printed(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _heavy_after(code: str) -> list[str]:
    """The HEAVY modules imported by ``code`` run in a fresh interpreter."""
    probe = (
        textwrap.dedent(code)
        + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    return json.loads(_printed(probe).strip().splitlines()[-1])


def test_the_kind_table_names_what_each_module_registers() -> None:
    from evalkit.checks.math_kinds import _Deferred

    for kind, module in registry._BUILTIN_KINDS.items():
        checker = registry.get_checker(kind)
        home = type(checker).__module__
        if isinstance(checker, _Deferred):  # a math kind not graded yet: its own module grades it
            assert home == f"evalkit.checks.{module}" and checker.module == f"evalkit.checks.{kind}"
        else:
            assert home in (f"evalkit.checks.{module}", f"evalkit.checks.{kind}"), (kind, home)
        assert checker.kind == kind
    for module in {*registry._BUILTIN_KINDS.values(), "formula", "complexity", "vector", "condition"}:
        __import__(f"evalkit.checks.{module}")
    for kind in ("formula", "complexity", "vector", "condition"):  # graded by their own modules now
        checker = registry.get_checker(kind)
        assert type(checker).__module__ == f"evalkit.checks.{kind}"
        assert checker.params_model is registry._REGISTRY[kind].params_model
    # every kind a built-in module registers is in the table (a new kind must be added there)
    builtin = {k for k, c in registry._REGISTRY.items() if type(c).__module__.startswith("evalkit.checks.")}
    assert builtin <= set(registry._BUILTIN_KINDS)


def test_a_math_kind_grades_through_its_module_on_first_use() -> None:
    code = """
        from evalkit.checks import get_checker
        from evalkit.checks.base import Answer, CheckContext
        from evalkit.spec.models import Part, Problem
        import sys
        checker = get_checker("formula")
        params = checker.params_model.model_validate({"expected": "d^{1/2}", "symbols": {"d": "dimension"}})
        assert "sympy" not in sys.modules and "evalkit.checks.formula" not in sys.modules
        problem = Problem(id="q", title="q", parts=[Part(id="a", prompt="What is it?", expected="d^{1/2}")])
        result = checker.check(params, Answer(text="$\\sqrt{d}$"), CheckContext(problem, problem.parts[0]))
        print(result.status, type(get_checker("formula")).__name__)
    """
    assert _printed(code).split() == ["correct", "FormulaChecker"]


def test_an_unknown_kind_names_every_known_one() -> None:
    with pytest.raises(SpecError) as err:
        registry.get_checker("formla")
    message = str(err.value)
    assert "unknown check kind 'formla'" in message
    for kind in ("code", "complexity", "criteria", "exact", "formula", "vector"):
        assert kind in message
    assert registry.checker_kinds() == sorted(registry.checker_kinds())
    assert set(registry._BUILTIN_KINDS) <= set(registry.checker_kinds())


def test_a_registered_kind_is_found_and_listed() -> None:
    @registry.register_checker
    class Shout:
        kind = "test-shout"
        params_model = registry.CheckParams

        def check(self, params, answer, ctx):  # type: ignore[no-untyped-def]
            return registry.CheckResult.correct("loud")

    try:
        assert isinstance(registry.get_checker("test-shout"), Shout)
        assert "test-shout" in registry.checker_kinds()
    finally:
        del registry._REGISTRY["test-shout"]


def test_a_math_kind_is_validated_without_sympy() -> None:
    lookup = "from evalkit.checks import get_checker; get_checker('formula').params_model(expected='d')"
    assert _heavy_after(lookup) == []


def test_a_code_kind_is_validated_without_torch_when_it_runs_nothing() -> None:
    lookup = """
        from evalkit.checks import get_checker
        params = get_checker('code').params_model
        params(mode='shape', blank='A', expected=['h', 'd', 'k'], aliases={'q': 'k'})
        params(mode='blanks', skeleton='mha', reference='rmsnorm.py:RMSNorm', cases=[{'inputs': {'x': [2, 3]}}])
    """  # a shape to compare, and an author's reference not resolved without its problem's folder
    heavy = _heavy_after(lookup)
    assert "torch" not in heavy and "sympy" not in heavy, heavy


def test_a_code_kind_grades_through_its_module_on_first_use() -> None:
    code = """
        import sys
        from evalkit.checks import get_checker
        from evalkit.checks.base import Answer, CheckContext
        from evalkit.spec.models import Part, Problem
        checker = get_checker("code")
        params = checker.params_model.model_validate({"mode": "shape", "blank": "A", "expected": ["h", "d"]})
        assert "torch" not in sys.modules and "evalkit.checks.code" not in sys.modules
        problem = Problem(id="q", title="q", parts=[Part(id="a", prompt="The shape of A?")])
        result = checker.check(params, Answer(text="A = [h, d]"), CheckContext(problem, problem.parts[0]))
        print(result.status, type(get_checker("code")).__name__)
    """
    assert _printed(code).split() == ["correct", "CodeChecker"]


def test_a_quick_check_loads_sympy_in_its_worker_only() -> None:
    """`evalkit check formula`: the answer is read and graded in the math worker, not in evalkit."""
    code = """
        from evalkit.checks.quick import check_expression
        assert check_expression("formula", "\\sqrt{d}", "d^{1/2}", symbols="d").status == "correct"
        assert check_expression("formula", "d^2", "d^{1/2}", symbols="d").status == "incorrect"
    """
    assert _heavy_after(code) == []


def test_validating_math_rubrics_imports_no_sympy() -> None:
    code = "from evalkit import api; assert api.validate(['problems/hw9_q1.yaml', 'rubrics/hw9_q1.yaml']).ok"
    heavy = _heavy_after(code)
    assert "sympy" not in heavy and "torch" not in heavy, heavy


def test_listing_the_kinds_imports_no_checker() -> None:
    assert _heavy_after("from evalkit.checks import checker_kinds; assert 'code' in checker_kinds()") == []


def test_the_package_and_the_cli_import_nothing_heavy() -> None:
    assert _heavy_after("import evalkit, evalkit.cli, evalkit.bounded") == []


def test_the_public_names_still_come_from_the_package() -> None:
    import evalkit

    for name in evalkit.__all__:
        assert getattr(evalkit, name) is not None, name
    assert evalkit.RunConfig is __import__("evalkit.api").api.RunConfig
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        evalkit.nope  # noqa: B018


@pytest.mark.parametrize(
    "args",
    [["--help"], ["run", "--help"], ["validate", "--help"], ["run", "--no-such-option"]],
)
def test_help_and_usage_errors_import_nothing_heavy(args: list[str]) -> None:
    code = f"""
        import sys
        from evalkit import cli
        sys.argv = ["evalkit", *{args!r}]
        try:
            cli.main()
        except SystemExit:
            pass
    """
    assert _heavy_after(code) == []


def test_a_run_without_a_key_stops_before_loading_anything() -> None:
    code = """
        import sys
        from evalkit import cli
        sys.argv = ["evalkit", "run", "--model", "claude", "--no-report"]
        try:
            cli.main()
        except SystemExit as exit_:
            print("exit", exit_.code)
    """
    probe = textwrap.dedent(code) + f"\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert done.stderr.strip().splitlines() == [
        "error: no Anthropic API key: set ANTHROPIC_API_KEY, or run offline with 'evalkit run' "
        "(replays the recorded transcript)"
    ]
    exit_line, heavy = done.stdout.strip().splitlines()
    assert exit_line == "exit 1"
    for module in ("torch", "sympy", "anthropic"):  # no SDK, no rubric loaded (they import sympy)
        assert module not in heavy, heavy


def test_a_run_against_no_server_on_this_machine_stops_before_loading_anything() -> None:
    import socket

    with socket.socket() as closed:  # bound, not listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
        code = f"""
            import sys
            from evalkit import cli
            sys.argv = ["evalkit", "run", "--model", "openai:llama3", "--base-url", {base_url!r}, "--no-report"]
            try:
                cli.main()
            except SystemExit as exit_:
                print("exit", exit_.code)
        """
        probe = textwrap.dedent(code) + f"\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env
        )
    assert done.stderr.strip().splitlines() == [
        f"error: openai:llama3: nothing is listening at {base_url} (connection refused): is the server "
        f"running on port {base_url.rsplit(':', 1)[1].removesuffix('/v1')} of this machine, and is the URL "
        "right (--base-url)?"
    ]
    exit_line, heavy = done.stdout.strip().splitlines()
    assert exit_line == "exit 1"
    for module in ("torch", "sympy", "openai"):
        assert module not in heavy, heavy
