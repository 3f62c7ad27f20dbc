"""The ``code`` kind as a spec sees it: its parameters, validated without importing torch when they can be.

Validating a code check has a pure part (the mode's keys, cases, ``grad_of``,
``dims``; a skeleton found by name or read from the problem's folder; an expected
einsum checked against its operands by torch's rules, :mod:`evalkit.reference.equations`)
and a part that runs torch: its reference is resolved (an author's ``file.py:Name`` is
imported) and run once on each case, a reference einsum is run on the operands, a
reference's output shape is computed. The validation context chooses:

* nothing given (a run's loading): every check is validated in full;
* a :class:`~evalkit.spec.verified.VerifiedChecks`: a check whose key (its parameters, its
  problem folder's files, the code doing the work) passed before skips the torch part; the
  others are validated in full, and recorded when they pass (``validate --selftest``);
* also a ``not_run`` list (plain ``evalkit validate``): the others are *read* instead — a
  built-in reference's name looked up, an author's file parsed for the name — and what
  their validation in full would have run is appended to the list.

A reference not resolved at validation is resolved when it is first used, and refused
if its file changed since it was read.

The checker registered here imports :mod:`evalkit.checks.code` (torch, the
sandbox) the first time it grades; that module then registers its own in this
one's place. The parameter classes are the same objects under both names.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from evalkit.checks.base import _REGISTRY, Answer, CheckContext, CheckParams, CheckResult, register_checker
from evalkit.errors import SpecError
from evalkit.reference.equations import einsum_shape
from evalkit.reference.files import inspect_reference, resolve_reference, resolve_skeleton
from evalkit.spec.files import FILE_REFERENCE, folder_from, is_file_reference
from evalkit.spec.verified import VerifiedChecks, folder_digests, not_run_from, verified_from

if TYPE_CHECKING:
    from evalkit.reference.cases import InputSpec
    from evalkit.reference.registry import Reference

__all__ = ["CodeCase", "CodeInput", "CodeParams", "Mode"]

Mode = Literal["blanks", "patch", "program", "einsum", "shape"]
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CodeInput(BaseModel):
    """An input other than a float32 tensor: ``{shape, dtype, low, high}``, or ``{value}`` passed as is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shape: list[int] | None = None
    dtype: Literal["float32", "float64", "int64", "int32", "bool"] = "float32"
    low: int | float = 0
    high: int | float | None = None  # floats: uniform in [low, high) instead of standard normals
    value: int | float | bool | str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CodeInput:
        if self.shape is None:
            if "value" not in self.model_fields_set:
                raise ValueError("an input needs 'shape' (a tensor) or 'value' (passed as it is)")
            return self
        if "value" in self.model_fields_set:
            raise ValueError("an input has either 'shape' or 'value', not both")
        if self.dtype.startswith("int") and (self.high is None or self.high <= self.low):
            raise ValueError(
                f"{self.dtype} inputs need 'high' above 'low' (values are drawn from [low, high))"
            )
        if self.dtype.startswith("int") and (self.low != int(self.low) or self.high != int(self.high or 0)):
            raise ValueError(f"{self.dtype} inputs need whole numbers for 'low' and 'high'")
        if self.dtype.startswith("float") and self.high is not None and self.high <= self.low:
            raise ValueError(
                "float inputs with 'high' need it above 'low' (values are drawn from [low, high))"
            )
        if self.dtype.startswith("float") and self.high is None and "low" in self.model_fields_set:
            raise ValueError("float inputs with 'low' need 'high' too (values are drawn from [low, high))")
        if self.dtype == "bool" and {"low", "high"} & self.model_fields_set:
            raise ValueError("bool inputs are fair coins: they take no 'low' or 'high'")
        return self

    @property
    def is_float_tensor(self) -> bool:
        return self.shape is not None and self.dtype.startswith("float")

    def spec(self) -> InputSpec:
        from evalkit.reference.cases import InputSpec

        if self.shape is None:
            return InputSpec(value=self.value, literal=True)
        return InputSpec(tuple(self.shape), self.dtype, self.low, self.high)


class CodeCase(BaseModel):
    """Constructor keywords (module references) and named inputs, passed positionally in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    init: dict[str, int | float | bool | str] = Field(default_factory=dict)
    inputs: dict[str, list[int] | CodeInput] = Field(min_length=1)

    def specs(self) -> dict[str, InputSpec]:
        from evalkit.reference.cases import InputSpec

        return {
            k: v.spec() if isinstance(v, CodeInput) else InputSpec(tuple(v)) for k, v in self.inputs.items()
        }

    def is_float_tensor(self, name: str) -> bool:
        """Whether input ``name`` is a float tensor (a plain shape is float32)."""
        value = self.inputs[name]
        return value.is_float_tensor if isinstance(value, CodeInput) else True


class CodeParams(CheckParams):
    """Parameters of a ``code`` check; see :mod:`evalkit.checks.code` for each mode."""

    mode: Mode
    skeleton: str | None = None
    skeleton_given: str | None = None
    blanks: list[str] | None = None
    reference: str | None = None
    entry: str | None = None
    copy_weights: bool = True
    cases: list[CodeCase] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1)
    grad_of: list[str] = Field(default_factory=list)
    atol: float = Field(default=1e-5, ge=0)
    rtol: float = Field(default=1e-4, ge=0)
    operands: dict[str, list[str]] | None = None
    expected: str | list[str] | None = None
    dims: list[dict[str, int]] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)
    blank: str | None = None
    outputs: list[int] | None = Field(default=None, min_length=1)
    output: int = Field(default=0, ge=0)
    time_limit_s: float | None = Field(default=None, gt=0)
    _reference: Reference | None = PrivateAttr(default=None)
    _skeleton: str | None = PrivateAttr(default=None)
    _folder: Path | None = PrivateAttr(default=None)  # the problem's, for a reference resolved on first use
    _reference_digest: str | None = PrivateAttr(default=None)  # of its file, when validated without torch

    @model_validator(mode="after")
    def _fits_mode(self, info: ValidationInfo) -> CodeParams:
        folder = folder_from(info.context)
        self._folder = folder
        verified = verified_from(info.context)
        key = self._verified_key(verified, folder) if verified is not None else None
        if verified is not None and key is not None and verified.has(key):
            self._validate(folder, run_torch=False)  # the reference is resolved on first use
            return self
        not_run = not_run_from(info.context)
        if not_run is not None and self.reference is not None:  # validated without torch
            self._validate(folder, run_torch=False)
            runs = self._what_runs()
            if runs is not None:
                not_run.append(runs)
            return self
        self._validate(folder, run_torch=True)
        # recorded only if nothing it covers changed while it ran (else that content never ran)
        if verified is not None and key is not None and self._verified_key(verified, folder) == key:
            verified.add(key)
        return self

    def _what_runs(self) -> str | None:
        """What validating this check in full runs beyond reading it (None: nothing)."""
        if self.reference is None:
            return None
        if self.mode == "einsum":
            return f"reference {self.reference} on the operands"
        if self.mode == "shape":
            return f"reference {self.reference} for its output's shape"
        if is_file_reference(self.reference):
            return f"reference {self.reference} on its cases"
        return None  # a built-in reference is only looked up by name

    def _verified_key(self, verified: VerifiedChecks, folder: Path | None) -> str | None:
        """This check's key in ``verified`` (None: nothing to skip, or the folder cannot be read, so
        it is validated in full)."""
        if self.reference is None:
            return None
        names_a_file = is_file_reference(self.reference) or (
            self.skeleton is not None and self.skeleton.endswith(".py")
        )
        if not names_a_file:
            return verified.key(self.model_dump_json(), None)
        if folder is None:
            return None  # validated in full, which says that the folder is not known
        try:
            files = folder_digests(folder)
        except OSError:
            return None
        match = FILE_REFERENCE.match(self.reference)
        if match is not None and str(Path(match.group("file"))) not in files:
            return None  # not a file of the folder: validated in full, which says so
        return verified.key(self.model_dump_json(), files)

    def _validate(self, folder: Path | None, run_torch: bool) -> None:
        """Every check of the parameters; the ones that run torch only if ``run_torch``.

        Without torch a reference is read, not imported: a built-in one's name is looked up, an
        author's file is parsed for the name (:func:`~evalkit.reference.files.inspect_reference`).
        """
        if self.mode in ("blanks", "patch") and (self.skeleton is None) == (self.skeleton_given is None):
            raise ValueError(f"mode {self.mode} needs exactly one of 'skeleton' or 'skeleton_given'")
        if self.skeleton is not None and (folder is not None or not self.skeleton.endswith(".py")):
            self._skeleton = _spec_value(resolve_skeleton, self.skeleton, folder)
        is_module: bool | None = None
        if self.reference is not None and (folder is not None or not is_file_reference(self.reference)):
            if run_torch:
                self._reference = _spec_value(resolve_reference, self.reference, folder)
                is_module = self._reference.is_module
            else:
                is_module, self._reference_digest = _spec_value(inspect_reference, self.reference, folder)
        if self.mode in ("blanks", "patch", "program"):
            if self.reference is None or not self.cases:
                raise ValueError(f"mode {self.mode} needs 'reference' and at least one entry in 'cases'")
            self._check_cases(is_module)
        if self.mode == "einsum":
            if not self.operands or (isinstance(self.expected, str) == (self.reference is not None)):
                raise ValueError(
                    "mode einsum needs 'operands' and either an 'expected' equation or a 'reference'"
                )
            if isinstance(self.expected, str):
                self._check_equation(self.expected, self.operands)
            elif self._reference is not None:
                from evalkit.reference.cases import einsum_trials

                try:
                    einsum_trials(self._reference, self.operands, self.dim_sets(), [0])
                except (RuntimeError, KeyError, TypeError, ValueError) as err:
                    raise ValueError(f"the reference einsum does not run on the operands: {err}") from None
        if self.mode == "shape":
            if self.reference is not None:
                if not self.operands or self.expected is not None:
                    raise ValueError("mode shape with a 'reference' needs 'operands' (and no 'expected')")
                if self._reference is not None:
                    _spec_value(self.reference_shape, self.dim_sets()[0])
            elif not isinstance(self.expected, list):
                raise ValueError("mode shape needs 'expected' as a list of dimensions, e.g. [h, d, k]")
        used = {d for shape in (self.operands or {}).values() for d in shape}
        for sizes in self.dims:
            missing = sorted(t for a, t in self.aliases.items() if t not in sizes and a not in sizes)
            if missing:
                raise ValueError(f"dims {sizes} give no size to {', '.join(missing)}, which aliases refer to")
            missing = sorted(used - set(sizes))
            if missing:
                raise ValueError(f"dims {sizes} give no size to {', '.join(missing)}, which operands use")

    def _check_equation(self, equation: str, operands: Mapping[str, Sequence[str]]) -> None:
        """The expected einsum fits the operands' shapes under every dimension assignment (no torch)."""
        for sizes in self.dim_sets():  # declared dims give every operand's dimension a size (checked below)
            if any(d not in sizes for shape in operands.values() for d in shape):
                return
            try:
                einsum_shape(equation, [[sizes[d] for d in shape] for shape in operands.values()])
            except ValueError as err:
                names = ", ".join(f"{k}: [{', '.join(v)}]" for k, v in operands.items())
                raise ValueError(
                    f"the expected einsum {equation!r} does not fit the operands ({names}): {err}"
                ) from None

    def _check_cases(self, is_module: bool | None) -> None:
        """The cases fit the reference: ``is_module`` says whether it is a class (None: not known)."""
        for case in self.cases:
            if case.init and is_module is False:
                raise ValueError(f"reference {self.reference!r} is a function: cases take no 'init'")
            unknown = set(self.grad_of) - set(case.inputs)
            if unknown:
                raise ValueError(f"grad_of names {sorted(unknown)}, which are not inputs of every case")
            not_float = [n for n in self.grad_of if not case.is_float_tensor(n)]
            if not_float:
                raise ValueError(f"grad_of names {not_float}, which are not float tensors")
        reference = self._reference  # None when validated without torch, or not known
        if reference is not None and reference.origin:  # an author's reference: run it on each case, here
            from evalkit.reference.cases import reference_trials

            for number, case in enumerate(self.cases, 1):
                try:
                    reference_trials(reference, [(case.init, case.specs())], self.seeds[:1], self.grad_of,
                                     self.copy_weights, self.outputs)  # fmt: skip
                except Exception as err:
                    raise ValueError(
                        f"the reference {self.reference} fails on case {number} ({type(err).__name__}: {err})"
                    ) from None

    def resolved_reference(self) -> Reference:
        """The reference this check compares with (a SpecError if it cannot be resolved).

        A check validated without torch resolves it here, from the problem's folder, and refuses
        a reference file that changed since it was validated.
        """
        if self._reference is not None:
            return self._reference
        reference = resolve_reference(self.reference or "", self._folder)  # raises: says why it is unknown
        digest = self._reference_digest
        if digest is not None and not reference.origin.endswith(f"#{digest}"):
            path = reference.origin.rpartition("#")[0]
            raise SpecError(
                f"{path} changed after its rubric was validated; load the rubric again "
                "(evalkit validate --selftest runs the new version)"
            )
        self._reference = reference
        return reference

    def skeleton_source(self) -> str | None:
        """The named skeleton's source (None with ``skeleton_given``)."""
        if self.skeleton is None:
            return None
        return self._skeleton if self._skeleton is not None else resolve_skeleton(self.skeleton, None)

    def _expected_einsum(self) -> str | Reference:
        return self.expected if isinstance(self.expected, str) else self.resolved_reference()

    def reference_shape(self, sizes: Mapping[str, int]) -> list[int]:
        """Shape mode with a reference: the shape of its output ``output`` on operands of these sizes."""
        import torch

        from evalkit.reference.registry import outputs_of

        assert self.operands is not None
        generator = torch.Generator().manual_seed(0)
        inputs = [
            torch.randn(*[sizes[d] for d in shape], generator=generator) for shape in self.operands.values()
        ]
        with torch.no_grad():
            outputs = outputs_of(self.resolved_reference().call({}, tuple(inputs)))
        if self.output >= len(outputs):
            raise ValueError(f"output {self.output} asked for, but the reference returns {len(outputs)}")
        return list(outputs[self.output].shape)

    def trial_key(self) -> str:
        """What the reference trials depend on: the parameters and the reference's file and content."""
        origin = self.resolved_reference().origin if self.reference is not None else ""
        return self.model_dump_json() + origin

    def dim_sets(self, known: Sequence[str] = ()) -> list[dict[str, int]]:
        """The dimension assignments to try: the declared ones, or two of distinct primes.

        Generated assignments cover the operands' dimensions (einsum) or the
        expected shape's, the aliases' and ``known`` (the problem's dimension
        symbols) — so an answer may use any of them, and only equal ones agree.
        """
        if self.dims:
            sets = [dict(d) for d in self.dims]
        else:
            names: set[str] = set(known)
            if self.operands:
                names = {d for shape in self.operands.values() for d in shape}
            elif isinstance(self.expected, list):
                names |= {n for e in self.expected for n in _NAME.findall(e)} | set(self.aliases.values())
            names -= set(self.aliases)
            ordered = sorted(names)
            primes = _PRIMES[: len(ordered)]
            sets = [
                dict(zip(ordered, primes, strict=True)),
                dict(zip(ordered, reversed(primes), strict=True)),
            ]
        for alias, target in self.aliases.items():
            for s in sets:
                s.setdefault(alias, s[target])
        return sets


def _spec_value(getter: Any, *args: Any) -> Any:
    try:
        return getter(*args)
    except SpecError as err:
        raise ValueError(str(err)) from None


@register_checker
class DeferredCodeChecker:
    """The ``code`` kind until :mod:`evalkit.checks.code` is imported (on first use); its checker then takes over."""

    kind: ClassVar[str] = "code"
    params_model: ClassVar[type[CheckParams]] = CodeParams
    module: ClassVar[str] = "evalkit.checks.code"

    def check(self, params: Any, answer: Answer, ctx: CheckContext) -> CheckResult:
        importlib.import_module(self.module)  # registers CodeChecker, in this one's place
        checker = _REGISTRY[self.kind]
        if checker is self:
            raise RuntimeError(f"{self.module} did not register the {self.kind!r} check")
        result: CheckResult = checker.check(params, answer, ctx)
        return result
