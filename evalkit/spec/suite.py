"""A suite: the problems selected for a run, each with its rubric, plus the prompt set."""

from __future__ import annotations

import glob as globlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import SpecError
from evalkit.spec.loading import load_model, read_yaml
from evalkit.spec.models import PartRubric, Problem, Rubric

__all__ = ["LoadedProblem", "Suite", "find_yaml", "load_problem_file", "load_rubric_file", "load_suite"]


@dataclass(frozen=True)
class LoadedProblem:
    problem: Problem
    rubric: Rubric
    path: Path
    rubric_path: Path

    @property
    def id(self) -> str:
        return self.problem.id

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
    return load_model(Problem, path)


def load_rubric_file(path: Path) -> Rubric:
    return load_model(Rubric, path)


def _check_rubric(problem: Problem, problem_path: Path, rubric: Rubric, rubric_path: Path) -> None:
    _, lines = read_yaml(rubric_path)
    part_ids = [p.id for p in problem.parts]
    for part_id in rubric.parts:
        if part_id not in part_ids:
            raise SpecError(
                f"rubric names part {part_id!r}, but problem {problem.id!r} ({problem_path}) "
                f"has parts {', '.join(part_ids)}",
                path=rubric_path,
                line=lines.get(("parts", part_id)),
                field=f"parts.{part_id}",
            )
    for part_id in part_ids:
        if part_id not in rubric.parts:
            raise SpecError(
                f"no rubric for part {part_id!r} of problem {problem.id!r}; add parts.{part_id} "
                "with at least one check",
                path=rubric_path,
                line=lines.get(("parts",)),
                field="parts",
            )


def load_suite(problems: str | Path, rubrics_dir: str | Path, name: str | None = None) -> Suite:
    """Load the problems matching ``problems`` (file, directory or glob) and their rubrics."""
    problem_files = find_yaml(problems)
    if not problem_files:
        raise SpecError(f"no problem files match {str(problems)!r}; pass --problems 'problems/*.yaml'")
    rubric_by_id: dict[str, tuple[Rubric, Path]] = {}
    for rpath in find_yaml(rubrics_dir):
        rubric = load_rubric_file(rpath)
        if rubric.problem in rubric_by_id:
            other = rubric_by_id[rubric.problem][1]
            raise SpecError(f"second rubric for problem {rubric.problem!r} (first: {other})", path=rpath)
        rubric_by_id[rubric.problem] = (rubric, rpath)
    loaded: list[LoadedProblem] = []
    seen: dict[str, Path] = {}
    digest = hashlib.sha256()
    for ppath in problem_files:
        problem = load_problem_file(ppath)
        if problem.id in seen:
            raise SpecError(f"problem id {problem.id!r} is also used by {seen[problem.id]}", path=ppath)
        seen[problem.id] = ppath
        if problem.id not in rubric_by_id:
            raise SpecError(
                f"no rubric for problem {problem.id!r}: add a file in {rubrics_dir} with 'problem: {problem.id}'",
                path=ppath,
            )
        rubric, rpath = rubric_by_id[problem.id]
        _check_rubric(problem, ppath, rubric, rpath)
        digest.update(ppath.read_bytes())
        digest.update(rpath.read_bytes())
        loaded.append(LoadedProblem(problem, rubric, ppath, rpath))
    suite_name = name or _suite_name(problem_files)
    return Suite(suite_name, tuple(loaded), digest.hexdigest()[:16])


def _suite_name(files: list[Path]) -> str:
    stems = [f.stem for f in files]
    prefix = stems[0].split("_")[0] if stems else "suite"
    if all(s.split("_")[0] == prefix for s in stems):
        return prefix
    return files[0].parent.name or "suite"
