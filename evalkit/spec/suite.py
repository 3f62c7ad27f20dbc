"""A suite: the problems selected for a run, each with its rubric, plus the prompt set.

Problems belong to a homework (``suite``): the ``suite:`` field of the problem
file, else its file name up to the first ``_`` (``hw9_q1.yaml`` is in ``hw9``).
A problem's own files (reference code, skeletons) live in its folder,
``problems/NAME/`` beside ``problems/NAME.yaml`` (:mod:`evalkit.spec.files`);
they are part of the suite's content hash.
"""

from __future__ import annotations

import glob as globlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import SpecError
from evalkit.spec.files import FOLDER_KEY, folder_files, problem_folder
from evalkit.spec.loading import SpecErrors, load_model, read_yaml
from evalkit.spec.models import PartRubric, Probe, Problem, Rubric
from evalkit.spec.verified import NOT_RUN_KEY, VERIFIED_KEY, VerifiedChecks

__all__ = [
    "LoadedProblem",
    "Suite",
    "find_yaml",
    "load_problem_file",
    "load_rubric_file",
    "load_suite",
    "pair_rubrics",
    "rubric_problem_id",
    "suite_name_of",
]


def suite_name_of(problem: Problem, path: Path) -> str:
    """The homework a problem belongs to: its ``suite:`` field, else its file name up to the first ``_``."""
    return problem.suite or path.stem.split("_")[0]


@dataclass(frozen=True)
class LoadedProblem:
    problem: Problem
    rubric: Rubric
    path: Path
    rubric_path: Path

    @property
    def id(self) -> str:
        return self.problem.id

    @property
    def folder(self) -> Path:
        """Where the problem's own files are: ``problems/NAME/``."""
        return problem_folder(self.path)

    @property
    def suite(self) -> str:
        return suite_name_of(self.problem, self.path)

    def part_rubric(self, part_id: str) -> PartRubric:
        return self.rubric.parts[part_id]


@dataclass(frozen=True)
class Suite:
    name: str
    problems: tuple[LoadedProblem, ...]
    content_hash: str

    def get(self, problem_id: str) -> LoadedProblem:
        for lp in self.problems:
            if lp.id == problem_id:
                return lp
        known = ", ".join(lp.id for lp in self.problems)
        raise SpecError(f"no problem {problem_id!r} in the suite (known: {known})")

    def only(self, problem_ids: Sequence[str]) -> Suite:
        """The suite cut down to ``problem_ids`` (named after what is left, hashed over what is left)."""
        kept = tuple(lp for lp in self.problems if lp.id in set(problem_ids))
        return Suite(_suite_name(kept), kept, _content_hash(kept))


def find_yaml(pattern: str | Path) -> list[Path]:
    """YAML files named by a path, a directory or a glob, sorted."""
    pattern = str(pattern)
    p = Path(pattern)
    if p.is_dir():
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
    else:
        files = sorted(Path(f) for f in globlib.glob(pattern, recursive=True))
    return [f for f in files if f.is_file() and f.suffix in {".yaml", ".yml"}]


def load_problem_file(path: Path) -> Problem:
    """A problem file, with ``file:`` givens read from its folder."""
    return load_model(Problem, path, context={FOLDER_KEY: problem_folder(path)})


def load_rubric_file(
    path: Path,
    folder: Path | None = None,
    verified: VerifiedChecks | None = None,
    not_run: list[str] | None = None,
) -> Rubric:
    """A rubric file; ``folder`` is its problem's (for references and skeletons named by file).

    With ``verified``, a code check that passed before with the same content skips running torch
    (:mod:`evalkit.spec.verified`). With ``not_run``, no check runs torch: what a check's
    validation in full would run (an author's reference on its cases) is appended instead.
    """
    context: dict[str, object] = {}
    if folder is not None:
        context[FOLDER_KEY] = folder
    if verified is not None:
        context[VERIFIED_KEY] = verified
    if not_run is not None:
        context[NOT_RUN_KEY] = not_run
    return load_model(Rubric, path, context=context or None)


def _check_rubric(problem: Problem, problem_path: Path, rubric: Rubric, rubric_path: Path) -> list[SpecError]:
    _, lines = read_yaml(rubric_path)
    part_ids = [p.id for p in problem.parts]
    errors: list[SpecError] = []
    for part_id in rubric.parts:
        if part_id not in part_ids:
            errors.append(
                SpecError(
                    f"rubric names part {part_id!r}, but problem {problem.id!r} ({problem_path}) "
                    f"has parts {', '.join(part_ids)}",
                    path=rubric_path,
                    line=lines.get(("parts", part_id)),
                    field=f"parts.{part_id}",
                )
            )
    for part_id in part_ids:
        if part_id not in rubric.parts:
            errors.append(
                SpecError(
                    f"no rubric for part {part_id!r} of problem {problem.id!r}; add parts.{part_id} "
                    "with at least one check",
                    path=rubric_path,
                    line=lines.get(("parts",)),
                    field="parts",
                )
            )
            continue
        for i, probe in enumerate(rubric.parts[part_id].probes):
            unknown = _probe_template_error(probe, problem, part_id)
            if unknown:
                errors.append(
                    SpecError(
                        f"probe {probe.id!r} of part {part_id!r}: 'say' {unknown}; a probe's template can "
                        "use part (part.prompt, part.heading ...), problem, answer and work",
                        path=rubric_path,
                        line=lines.get(
                            ("parts", part_id, "probes", i, "say"), lines.get(("parts", part_id, "probes", i))
                        ),
                        field=f"parts.{part_id}.probes.{i}.say",
                    )
                )
    return errors


def _probe_template_error(probe: Probe, problem: Problem, part_id: str) -> str | None:
    """Why a probe's ``say`` template cannot be rendered (an unknown variable or attribute), or None."""
    import jinja2

    try:
        probe.render(problem, part_id)
    except jinja2.UndefinedError as err:
        return f"uses an unknown name ({err.message})"
    except jinja2.TemplateError as err:
        return f"cannot be rendered ({err})"
    return None


def rubric_problem_id(path: Path) -> str | None:
    """The ``problem:`` a rubric file names, read before it is validated (None if unreadable)."""
    try:
        data, _ = read_yaml(path)
    except SpecError:
        return None
    value = data.get("problem") if isinstance(data, dict) else None
    return str(value) if value is not None else None


def pair_rubrics(
    problem_files: Sequence[Path],
    rubric_files: Sequence[Path],
    rubric_hint: str = "the rubrics directory",
    verified: VerifiedChecks | None = None,
    not_run: list[str] | None = None,
) -> tuple[list[LoadedProblem], list[SpecError]]:
    """Every problem with its rubric, and every error found on the way (all of them, not the first).

    A rubric is validated with its problem's folder, so references and
    skeletons named by file are found and checked; ``verified`` lets code
    checks that passed before with the same content skip running torch. With
    ``not_run``, no check runs torch, and what was not run is appended as
    ``RUBRIC: what`` (see :func:`load_rubric_file`).
    """
    errors: list[SpecError] = []
    problems: list[tuple[Problem, Path]] = []
    seen: dict[str, Path] = {}
    for ppath in problem_files:
        try:
            problem = load_problem_file(ppath)
        except SpecError as err:
            errors.append(err)
            continue
        if problem.id in seen:
            errors.append(
                SpecError(f"problem id {problem.id!r} is also used by {seen[problem.id]}", path=ppath)
            )
            continue
        seen[problem.id] = ppath
        problems.append((problem, ppath))
    rubric_by_id: dict[str, tuple[Rubric, Path]] = {}
    invalid: set[str] = set()  # problems whose rubric has errors (reported already)
    for rpath in rubric_files:
        pid = rubric_problem_id(rpath)
        folder = problem_folder(seen[pid]) if pid in seen else None
        skipped: list[str] | None = [] if not_run is not None else None
        try:
            rubric = load_rubric_file(rpath, folder, verified, skipped)
        except SpecError as err:
            errors.append(err)
            # its problem has a rubric, a broken one: no 'no rubric for problem' besides (a rubric that
            # does not even parse is its problem's by the file name they share)
            owner = (
                pid if pid is not None else next((p.id for p, pp in problems if pp.stem == rpath.stem), None)
            )
            if owner is not None:
                invalid.add(owner)
            continue
        if rubric.problem in rubric_by_id:
            other = rubric_by_id[rubric.problem][1]
            errors.append(
                SpecError(f"second rubric for problem {rubric.problem!r} (first: {other})", path=rpath)
            )
            continue
        rubric_by_id[rubric.problem] = (rubric, rpath)
        if not_run is not None and skipped:
            not_run.extend(f"{rpath}: {what}" for what in skipped)
    loaded: list[LoadedProblem] = []
    for problem, ppath in problems:
        if problem.id in invalid and problem.id not in rubric_by_id:
            continue
        if problem.id not in rubric_by_id:
            errors.append(
                SpecError(
                    f"no rubric for problem {problem.id!r}: add a file in {rubric_hint} with 'problem: {problem.id}'",
                    path=ppath,
                )
            )
            continue
        rubric, rpath = rubric_by_id[problem.id]
        problems_errors = _check_rubric(problem, ppath, rubric, rpath)
        errors.extend(problems_errors)
        if not problems_errors:
            loaded.append(LoadedProblem(problem, rubric, ppath, rpath))
    return loaded, errors


def _content_hash(problems: Sequence[LoadedProblem]) -> str:
    digest = hashlib.sha256()
    for lp in problems:
        digest.update(lp.path.read_bytes())
        digest.update(lp.rubric_path.read_bytes())
        for file in folder_files(lp.folder):  # the author's reference code and skeletons
            digest.update(str(file.relative_to(lp.folder)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def load_suite(
    problems: str | Path, rubrics_dir: str | Path, name: str | None = None, suite: str | None = None
) -> Suite:
    """Load the problems matching ``problems`` (file, directory or glob) and their rubrics.

    ``suite`` keeps only the problems of that homework. Every error found is
    raised at once (a :class:`~evalkit.spec.loading.SpecErrors` when there are several).
    """
    problem_files = find_yaml(problems)
    if not problem_files:
        raise SpecError(f"no problem files match {str(problems)!r}; pass --problems 'problems/*.yaml'")
    loaded, errors = pair_rubrics(problem_files, find_yaml(rubrics_dir), str(rubrics_dir))
    if errors:
        raise errors[0] if len(errors) == 1 else SpecErrors(errors)
    if suite is not None:
        known = sorted({lp.suite for lp in loaded})
        loaded = [lp for lp in loaded if lp.suite == suite]
        if not loaded:
            raise SpecError(f"no problem of suite {suite!r} in {problems} (suites there: {', '.join(known)})")
    return Suite(name or _suite_name(loaded), tuple(loaded), _content_hash(loaded))


def _suite_name(problems: Sequence[LoadedProblem]) -> str:
    names = {lp.suite for lp in problems}
    if len(names) == 1:
        return names.pop()
    return problems[0].path.parent.name if problems else "suite"
