"""The ``code`` check: grade a model's code by running it, isolated, against a reference.

One kind, five modes. Every mode but ``shape`` runs the model's code in the
sandbox (``ctx.sandbox``, or the shared default pool); the child returns
tensors and errors, and the verdict is computed here, against reference
outputs computed here. Fragments and blanks accumulate over a part's turns:
``answer.history`` (oldest first), then ``answer.text``; later ones win.

``blanks``
    Substitute the reply's blank answers (``(a) = `d_model```, ``**Blank (d): Q**``,
    a summary table row) into a skeleton, run it on random inputs over
    ``cases`` × ``seeds``, compare with ``reference``::

        - kind: code
          mode: blanks
          skeleton: mha                 # or skeleton_given: <a Given of kind code>
          reference: mha
          cases:
            - {init: {d_model: 16, num_heads: 4}, inputs: {Q: [2, 5, 16], K: [2, 7, 16], V: [2, 7, 16]}}
            - {init: {d_model: 24, num_heads: 3}, inputs: {Q: [1, 3, 24], K: [1, 3, 24], V: [1, 3, 24]}}
          seeds: [0, 1]

``patch``
    Apply the reply's code blocks to the skeleton by name (see
    :mod:`evalkit.reference.patch`), then run as above. Q3(b)::

        - kind: code
          mode: patch
          skeleton: mha_wide_v_start    # the filled class with W_v -> 2 * d_model
          reference: mha_wide_v
          cases:
            - {init: {d_model: 16, num_heads: 4}, inputs: {Q: [2, 5, 16], K: [2, 7, 16], V: [2, 7, 16]}}
            - {init: {d_model: 12, num_heads: 2}, inputs: {Q: [3, 4, 12], K: [3, 6, 12], V: [3, 6, 12]}}

``program``
    The reply's own definitions (imports, functions, classes; example calls
    dropped) are called as ``entry`` and compared with ``reference``;
    ``grad_of`` compares input gradients too (an input with no gradient
    counts as zero)::

        - {kind: code, mode: program, reference: argmax_attention, grad_of: [Q, K, V],
           cases: [{inputs: {Q: [4, 3], K: [6, 3], V: [6, 5]}}]}

``einsum``
    The reply's ``torch.einsum("...", x, W_k)`` (or bare equation string) is
    run on operands of the declared symbolic shapes, for each ``dims``
    assignment (default: two of distinct primes), against ``expected``. Q4(d)::

        - kind: code
          mode: einsum
          operands: {x: [b, d], W_k: [d, k]}
          expected: "bd,dk->bk"

``shape``
    The reply's shape (``$[h, d, q]$`` on its own line, ``\\boxed{[h, d, q]}``
    or ``A = [h, d, q]``) is evaluated for each ``dims`` assignment and
    compared with ``expected``; ``aliases`` give other names of a dimension.
    Nothing is executed. Q4(a)::

        - {kind: code, mode: shape, blank: A, expected: [h, d, k], aliases: {q: k}}

Common keys: ``entry`` (name in the model's code; default the reference's),
``copy_weights`` (default true: the model's class gets the reference's state
dict, so outputs match exactly; false compares output shapes only),
``atol``/``rtol`` (default 1e-5/1e-4), ``time_limit_s`` (default: the
run's). Model code gets ``math``, ``torch``, ``nn`` and ``F`` imported.

**The author's own reference.** ``reference: rmsnorm.py:RMSNorm`` names a
function or ``nn.Module`` class in the problem's folder (``problems/NAME/`` for
``problems/NAME.yaml``; see :mod:`evalkit.reference.files`), and
``skeleton: skeleton.py`` a file there. A case's inputs are shapes (float32
normals) or ``{shape, dtype, low, high}`` / ``{value}``; ``outputs: [0, 2]``
compares only those of the returned tensors. In ``einsum`` mode a reference
function may stand for ``expected``; in ``shape`` mode a reference run on
``operands`` gives the expected shape of its output ``output``::

    - kind: code
      mode: program
      reference: cross_entropy.py:label_smoothed_ce
      cases:
        - inputs: {logits: [4, 7], target: {shape: [4], dtype: int64, high: 7}, eps: {value: 0.1}}
      grad_of: [logits]
      outputs: [0]

The parameters and their validation are :mod:`evalkit.checks.code_params` (no torch until a
reference is resolved or run); this module is imported when a code check first grades.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Mapping, Sequence
from itertools import permutations
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import Tensor

from evalkit.checks.base import Answer, CheckContext, CheckResult, Status, register_checker
from evalkit.checks.code_answers import (
    _attempts,
    _blank_readings,
    _code_blocks,
    _einsum_on,
    _einsum_reading,
    _shape_answers,
    blank_names,
    bound_shapes,
)
from evalkit.checks.code_params import CodeCase, CodeInput, CodeParams
from evalkit.errors import SandboxError, SpecError
from evalkit.extract import split_parts
from evalkit.reference.cases import Trial, einsum_trials, reference_trials
from evalkit.reference.patch import Patched, apply_fragments, assemble_program
from evalkit.reference.registry import Reference
from evalkit.reference.skeletons import PRELUDE, BlankError, fill_blanks, find_blanks
from evalkit.sandbox import Call, Job, Limits, RunOutcome, default_pool
from evalkit.sandbox.jobs import ErrorInfo

if TYPE_CHECKING:
    from evalkit.spec.models import CheckSpec, Problem

__all__ = ["CodeCase", "CodeChecker", "CodeInput", "CodeParams", "grade_code_answer"]

MAX_SOURCE_IN_DETAILS = 20_000


def outputs_of_reference(reference: Reference, inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    """Every output of a reference function on ``inputs``."""
    from evalkit.reference.registry import outputs_of

    with torch.no_grad():
        return outputs_of(reference.call({}, tuple(inputs)))


# --------------------------------------------------------------------------- explaining results


def _error_text(err: ErrorInfo, source: str) -> str:
    lines = source.splitlines()
    message = f"{err.type}: {err.message}" if err.message else err.type
    if not err.frames:
        return message
    last = err.frames[-1]
    code = lines[last.line - 1].strip() if 0 < last.line <= len(lines) else "?"
    chain = " → ".join(f.function for f in err.frames if f.function != "<module>")
    where = f"in {last.function}" if last.function != "<module>" else "at module level"
    via = f" (called via {chain})" if chain.count("→") else ""
    return f"{message} — {where}, line {last.line}: `{code}`{via}"


def _max_error(got: Tensor, want: Tensor) -> float:
    return float((got.double() - want.double()).abs().max()) if want.numel() else 0.0


def _compare(
    trials: Sequence[Trial], outcome: RunOutcome, source: str, params: CodeParams, limits: Limits
) -> tuple[bool, str, dict[str, Any]]:
    """Whether the child's outputs match the trials, why, and data for the report."""
    details: dict[str, Any] = {"termination": outcome.termination, "cpu_s": outcome.cpu_s}
    if outcome.output:
        details["output"] = outcome.output[-2000:]
    failure = outcome.failure(limits)
    if outcome.load_error is not None:
        return False, f"the code does not run: {_error_text(outcome.load_error, source)}", details
    if failure is not None:
        return (
            False,
            failure + (" (its output was cut at the cap)" if outcome.output_truncated else ""),
            details,
        )
    worst = 0.0
    shapes_only = not params.copy_weights and any(t.state is None and t.init is not None for t in trials)
    for i, trial in enumerate(trials):
        if i >= len(outcome.calls):
            return False, f"the code stopped after {i} of {len(trials)} runs", details
        got = outcome.calls[i]
        if got.error is not None:
            return False, f"on {trial.label}: {_error_text(got.error, source)}", details
        positions = trial.compared if trial.compared is not None else tuple(range(len(trial.outputs)))
        if trial.compared is not None and len(got.outputs) <= max(positions):
            return (
                False,
                f"on {trial.label}: returned {len(got.outputs)} tensors, expected at least {max(positions) + 1}",
                details,
            )
        if trial.compared is None and len(got.outputs) != len(trial.outputs):
            return (
                False,
                f"on {trial.label}: returned {len(got.outputs)} tensors, expected {len(trial.outputs)}",
                details,
            )
        pairs = [(f"output {j}", got.outputs[j], w) for j, w in zip(positions, trial.outputs, strict=True)]
        if trial.grad_of:
            if len(got.grads) != len(trial.grad_of):
                return False, f"on {trial.label}: gradients were not returned", details
            for name, pos, g, w in zip(params.grad_of, trial.grad_of, got.grads, trial.grads, strict=True):
                zero = torch.zeros_like(trial.inputs[pos])  # no gradient at all counts as a zero gradient
                pairs.append((f"the gradient of {name}", zero if g is None else g, zero if w is None else w))
        for what, g, w in pairs:
            if tuple(g.shape) != tuple(w.shape):
                return (
                    False,
                    f"on {trial.label}: {what} has shape {list(g.shape)}, expected {list(w.shape)}",
                    details,
                )
            if shapes_only:
                continue
            if not torch.isfinite(g).all():
                return False, f"on {trial.label}: {what} contains NaN or infinity", details
            error = _max_error(g, w)
            worst = max(worst, error)
            if not torch.allclose(g.double(), w.double(), atol=params.atol, rtol=params.rtol):
                details["max_abs_error"] = error
                return (
                    False,
                    f"on {trial.label}: {what} differs from the reference by up to {error:.3g} "
                    f"(tolerance atol={params.atol:g}, rtol={params.rtol:g})",
                    details,
                )
    details["max_abs_error"] = worst
    what = "output shapes match" if shapes_only else f"matches the reference (max abs error {worst:.2g})"
    return True, f"{what} on {len(trials)} runs", details


# --------------------------------------------------------------------------- the checker

_trial_cache: dict[str, tuple[Trial, ...]] = {}
_trial_lock = threading.Lock()
MAX_CACHED = 64


def _trials(params: CodeParams) -> tuple[Trial, ...]:
    """The reference trials for ``params``, computed once per distinct spec (they are deterministic)."""
    key = params.trial_key()
    with _trial_lock:
        if key in _trial_cache:
            return _trial_cache[key]
    if params.mode == "einsum":
        assert params.operands is not None
        trials = einsum_trials(params._expected_einsum(), params.operands, params.dim_sets(), params.seeds)
    else:
        reference = params.resolved_reference()
        cases = [(c.init, c.specs()) for c in params.cases]
        trials = reference_trials(
            reference, cases, params.seeds, params.grad_of, params.copy_weights, params.outputs
        )
    with _trial_lock:
        if len(_trial_cache) >= MAX_CACHED:
            _trial_cache.pop(next(iter(_trial_cache)))
        _trial_cache[key] = trials
    return trials


def _skeleton_source(params: CodeParams, ctx: CheckContext) -> str:
    source = params.skeleton_source()
    if source is not None:
        return source
    for given in ctx.problem.givens:
        if given.name == params.skeleton_given and given.kind == "code" and given.content:
            return given.content
    raise SpecError(f"problem {ctx.problem.id} has no code given named {params.skeleton_given!r}")


def _entry(params: CodeParams) -> str:
    return params.entry or params.resolved_reference().entry


def _run(
    source: str, trials: Sequence[Trial], entry: str, params: CodeParams, ctx: CheckContext, **info: Any
) -> CheckResult:
    limits = Limits.for_time_limit(params.time_limit_s or ctx.time_limit_s)
    calls = tuple(
        Call(entry, t.inputs, init=t.init, state=t.state, grad_of=t.grad_of, cotangents=t.cotangents)
        for t in trials
    )
    try:
        pool = ctx.sandbox if ctx.sandbox is not None else default_pool()
        outcome = pool.run(Job(source, calls, limits))
    except SandboxError as err:
        return CheckResult.unscored("sandbox_error", f"could not run the code: {err}")
    ok, explanation, details = _compare(trials, outcome, source, params, limits)
    details = {"mode": params.mode, **info, **details, "source": source[:MAX_SOURCE_IN_DETAILS]}
    return CheckResult.from_bool(ok, explanation, **details)


def _unchanged(base: str, patched: str) -> set[str]:
    """Names of functions whose code the patch left as in ``base``."""

    def defs(source: str) -> dict[str, str]:
        return {n.name: ast.unparse(n) for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}

    before, after = defs(base), defs(patched)
    return {name for name, text in after.items() if before.get(name) == text}


def _check_blanks(params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
    skeleton = _skeleton_source(params, ctx)
    names = params.blanks or list(find_blanks(skeleton))
    readings: dict[str, list[str]] = {}
    for text in _attempts(answer):
        readings.update(_blank_readings(text, names, skeleton))
    values = {name: offered[-1] for name, offered in readings.items()}
    missing = [n for n in names if n not in values]
    if missing:
        return CheckResult.unscored(
            "answer_parse_error" if values else "no_answer",  # nothing stated at all: not answered
            f"no answer found for blank(s) {', '.join(f'({n})' for n in missing)}; "
            f"state each as a line such as '({missing[0]}) = `...`'",
            blanks=values,
        )
    # a blank offered two ways ('(g) `self.num_heads` or `self.d_k`'): the code is run with each
    fillings = [values] + [
        {**values, name: value} for name, offered in readings.items() for value in offered[:-1]
    ]
    results = [_run_blanks(skeleton, filling, params, ctx) for filling in fillings[:MAX_FILLINGS]]
    if len(fillings) > MAX_FILLINGS:
        return CheckResult.unscored("answer_parse_error", "too many blank values offered side by side")
    if len(results) == 1:
        return results[0]
    hedged = "; ".join(f"({n}) {' or '.join(f'`{v}`' for v in o)}" for n, o in readings.items() if len(o) > 1)
    return _hedged(results, f"blanks offered side by side: {hedged}")


MAX_FILLINGS = 6


def _run_blanks(skeleton: str, values: dict[str, str], params: CodeParams, ctx: CheckContext) -> CheckResult:
    try:
        source = fill_blanks(skeleton, values)
        ast.parse(source)
    except (BlankError, SyntaxError) as err:
        return CheckResult.incorrect(f"the blanks do not make valid code: {err}", blanks=values)
    return _run(source, _trials(params), _entry(params), params, ctx, blanks=values)


def _check_patch(params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
    base = _skeleton_source(params, ctx)
    fragments = [block for text in _attempts(answer) for block in _code_blocks(text)]
    if not fragments:
        return CheckResult.unscored("no_answer", "the reply has no code block to apply")
    patched = apply_fragments(base, fragments)
    result = _run(patched.source, _trials(params), _entry(params), params, ctx, patch=_notes(patched))
    if result.status == "incorrect":
        untouched = sorted(f for f in _unchanged(base, patched.source) if f"in {f}," in result.explanation)
        if untouched:
            hint = f"; `{untouched[0]}` is as in the original code: the answer did not change it"
            return CheckResult("incorrect", result.explanation + hint, 0.0, None, result.details)
    return result


def _notes(patched: Patched) -> list[str]:
    return [("applied " if n.applied else "skipped ") + str(n) for n in patched.notes]


def _check_program(params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
    fragments = [block for text in _attempts(answer) for block in _code_blocks(text)]
    if not fragments:
        return CheckResult.unscored("no_answer", "the reply has no code block")
    program = assemble_program(fragments, PRELUDE)
    if not program.applied:
        reasons = "; ".join(str(n) for n in program.skipped[:3])
        return CheckResult.incorrect(
            f"none of the reply's code could be used ({reasons})", patch=_notes(program)
        )
    return _run(program.source, _trials(params), _entry(params), params, ctx, patch=_notes(program))


def _check_einsum(params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
    assert params.operands is not None
    declared = list(params.operands)
    found = None
    offered: list[tuple[str, list[str] | None]] = []
    attempts = _attempts(answer)
    for k in range(len(attempts) - 1, -1, -1):
        # a later reply without an einsum may still pick one of the options offered ('Go with B')
        offered = _einsum_reading(attempts[k], declared, attempts[k + 1 :])
        if offered:
            found = offered[0]
            break
    if found is None and answer.reply:
        found = _einsum_on(answer.reply, declared)  # the section points at the code elsewhere in the reply
    if found is None:
        return CheckResult.unscored("no_answer", "no einsum call or equation found in the reply")
    if len(offered) > 1:  # a hedge: each einsum offered must be right
        results = [_einsum_result(params, ctx, declared, *alternative) for alternative in offered]
        return _hedged(
            results, f"{len(offered)} einsums offered ({' or '.join(repr(eq) for eq, _ in offered)})"
        )
    return _einsum_result(params, ctx, declared, *found)


def _hedged(results: Sequence[CheckResult], offered: str) -> CheckResult:
    """The verdict on answers offered side by side: incorrect if one is, else unscored if one cannot
    be graded; correct only when every one is (they are then the same answer)."""
    for status in ("incorrect", "unscored"):
        for k, result in enumerate(results, 1):
            if result.status == status:
                text = f"{offered}; answer {k}: {result.explanation}"
                return CheckResult(status, text, 0.0, result.reason, result.details)
    return results[-1]


def _einsum_result(
    params: CodeParams, ctx: CheckContext, declared: list[str], equation: str, args: list[str] | None
) -> CheckResult:
    if len(equation) > 200 or not re.fullmatch(r"[A-Za-z.,\s\->]+", equation):
        return CheckResult.incorrect(f"{equation[:80]!r} is not an einsum equation")
    order = args or declared
    if sorted(order) != sorted(declared) and len(order) == len(declared) and set(order) & set(declared):
        wrong = ", ".join(a for a in order if a not in declared)
        return CheckResult.incorrect(  # 'einsum(..., x, W_k)' for v: it names another tensor than the blank's
            f"the einsum is applied to {', '.join(order)}: {wrong} where the blank uses "
            f"{', '.join(d for d in declared if d not in order)}",
            equation=equation,
        )
    if sorted(order) != sorted(declared):
        return CheckResult.unscored(
            "answer_parse_error",
            f"the einsum is applied to {', '.join(order)}, but the operands are {', '.join(declared)}",
            equation=equation,
        )
    source = (
        PRELUDE
        + f"\n\ndef einsum_answer({', '.join(declared)}):\n    return torch.einsum({equation!r}, {', '.join(order)})\n"
    )
    params = params.model_copy(update={"grad_of": []})
    return _run(source, _trials(params), "einsum_answer", params, ctx, equation=equation, operands=order)


_ARITH = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Constant,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.USub, ast.UAdd,
)  # fmt: skip


def _evaluate(entry: str, sizes: Mapping[str, int]) -> float:
    """A dimension expression such as ``n+1`` or ``d/h`` under ``sizes``; ValueError if it is not one."""
    tree = ast.parse(entry.replace("^", "**") if len(entry) <= 60 else "(", mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ARITH):
            raise ValueError(f"{entry!r} is not a dimension expression")
        if isinstance(node, ast.Name) and node.id not in sizes:
            raise ValueError(
                f"{node.id!r} is not a dimension of this problem (known: {', '.join(sorted(sizes))})"
            )
    return float(eval(compile(tree, "<shape>", "eval"), {"__builtins__": {}}, dict(sizes)))


def _check_shape(params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
    names = [n for g in ctx.problem.givens for n in blank_names(g.content or "", params.blank or "")]
    shapes: list[list[str]] = []
    attempts = _attempts(answer)
    for k in range(len(attempts) - 1, -1, -1):
        shapes = _shape_answers(attempts[k], params.blank, names, attempts[k + 1 :])
        if shapes:
            break
    if not shapes:
        return CheckResult.unscored("no_answer", "no shape such as [h, d, k] found in the reply")
    # the reply may state the variable's shape again elsewhere ('So W_k is [h, d, k]'): each statement counts
    shapes += [s for s in bound_shapes(answer.reply, params.blank, names) if s not in shapes]
    results = [_grade_shape(shape, params, ctx) for shape in shapes]
    wrong = next((r for r in results if r.status != "correct"), None)
    if wrong is not None and len(shapes) > 1:
        listed = "; ".join(f"[{', '.join(s)}]" for s in shapes)
        return CheckResult(
            wrong.status,
            f"the reply states {len(shapes)} different shapes ({listed}): {wrong.explanation}",
            0.0,
            wrong.reason,
            dict(wrong.details),
        )
    return wrong or results[-1]


def _grade_shape(shape: list[str], params: CodeParams, ctx: CheckContext) -> CheckResult:
    shown = f"[{', '.join(shape)}]"
    declared = params.expected if isinstance(params.expected, list) else None
    expected = f"[{', '.join(declared)}]" if declared is not None else "the reference's output shape"
    known = [name for name, symbol in ctx.problem.symbols.items() if symbol.kind in ("dimension", "integer")]
    for sizes in params.dim_sets(known):
        try:
            got = [_evaluate(e, sizes) for e in shape]
        except (ValueError, SyntaxError, ZeroDivisionError) as err:
            return CheckResult.incorrect(f"the shape {shown} cannot be read: {err}", shape=shape)
        if declared is not None:
            want = [_evaluate(e, sizes) for e in declared]
        else:
            want = [float(n) for n in params.reference_shape(sizes)]
        if got != want:
            values = ", ".join(f"{k}={v}" for k, v in sizes.items())
            why = _permuted(got, want)
            return CheckResult.incorrect(
                f"the shape {shown} is not {expected}: with {values} it is {[int(g) if g == int(g) else g for g in got]}, "
                f"not {[int(w) for w in want]}{why}",
                shape=shape,
            )
    return CheckResult.correct(f"the shape {shown} equals {expected}", shape=shape)


def _permuted(got: list[float], want: list[float]) -> str:
    if len(got) != len(want):
        return f" ({len(got)} axes instead of {len(want)})"
    if any(list(p) == want for p in permutations(got)):
        return " (the right axes in the wrong order)"
    return ""


_MODES = {
    "blanks": _check_blanks,
    "patch": _check_patch,
    "program": _check_program,
    "einsum": _check_einsum,
    "shape": _check_shape,
}


@register_checker
class CodeChecker:
    """Grades code by running it in the sandbox against a reference (see the module docstring)."""

    kind = "code"
    params_model = CodeParams

    def check(self, params: CodeParams, answer: Answer, ctx: CheckContext) -> CheckResult:
        return _MODES[params.mode](params, answer, ctx)


def grade_code_answer(
    problem: Problem,
    part_id: str,
    checks: Sequence[CheckSpec],
    answer_text: str,
    history: Sequence[str] = (),
    *,
    sandbox: Any = None,
    time_limit_s: float = 10.0,
) -> CheckResult:
    """Grade a reply against the ``code`` checks among ``checks`` (``CheckSpec`` objects) of one part.

    When ``answer_text`` has per-part headings, only this part's section is
    graded (likewise for each ``history`` entry). Several checks combine like a
    part: incorrect if any is, correct if all are, else unscored; the result's
    ``details["checks"]`` holds each one. ``sandbox`` defaults to the shared pool.
    """
    try:
        part = problem.part(part_id)
    except KeyError:
        known = ", ".join(p.id for p in problem.parts)
        raise SpecError(f"problem {problem.id} has no part {part_id!r}; its parts are {known}") from None
    specs = [c for c in checks if c.kind == "code"]
    if not specs:
        raise SpecError(f"part {part_id} of problem {problem.id} has no code checks")
    labels = {p.id: (p.label or p.id).strip("()").replace(")(", ".") for p in problem.parts}

    def section(text: str) -> str:
        found = split_parts(text, list(labels.values()))
        return found.get(labels[part_id], text if not found else "")

    answer = Answer(section(answer_text), answer_text, tuple(section(h) for h in history))
    ctx = CheckContext(problem=problem, part=part, sandbox=sandbox, time_limit_s=time_limit_s)
    results = [CodeChecker().check(cast(CodeParams, spec.params), answer, ctx) for spec in specs]
    if len(results) == 1:
        return results[0]
    statuses = {r.status for r in results}
    status: Status = (
        "incorrect" if "incorrect" in statuses else "correct" if statuses == {"correct"} else "unscored"
    )
    explanation = "; ".join(f"check {i + 1}: {r.explanation}" for i, r in enumerate(results))
    reason = next((r.reason for r in results if r.status == status and r.reason), None)
    score = sum(r.score for r in results) / len(results)
    return CheckResult(status, explanation, score, reason, {"checks": [r.to_json() for r in results]})
