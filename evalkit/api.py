"""What the CLI and users' scripts call: run, validate, schema, runs, show.

Example::

    from evalkit import api
    result = api.run(api.RunConfig(model="replay"))
    print(result.run_dir, result.summary_rows())
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from evalkit.cache import ResponseCache
from evalkit.checks.base import CheckResult
from evalkit.conversation import ConversationResult, PartResult
from evalkit.errors import EvalkitError, SpecError, StoreError
from evalkit.models.base import GenerationOptions, options_for
from evalkit.models.batch import BatchPolling, require_batch_support
from evalkit.models.limits import CallLimits
from evalkit.models.registry import ModelSettings, expand_alias, preflight, resolve_model
from evalkit.paths import default_dir
from evalkit.pricing import price_for
from evalkit.probes import ProbeSetting
from evalkit.regrade import RegradeResult, regrade_run
from evalkit.results import JudgeSpend, results_json, truncated_replies
from evalkit.runner import JudgeMetering, Listener, ModelRun, execute
from evalkit.spec.loading import read_yaml, spec_error_lines
from evalkit.spec.models import Problem, Rubric
from evalkit.spec.prompts import PromptSet, load_prompts
from evalkit.spec.suite import LoadedProblem, Suite, find_yaml, load_suite, pair_rubrics
from evalkit.store import RunDir, RunStore, list_runs, open_run, package_versions

__all__ = [
    "RunConfig",
    "RunResult",
    "list_runs",
    "load_run",
    "run",
    "schema",
    "summarize_parts",
    "validate",
]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RunConfig:
    """Everything a run depends on. ``model`` is an alias or ``provider:model``; ``models`` runs several."""

    model: str = "replay"
    models: tuple[str, ...] = ()
    problems: str | None = None  # file, directory or glob; default problems/*.yaml
    rubrics: str | None = None
    prompts: str | None = None
    runs_dir: str | None = None
    base_url: str | None = None
    options: GenerationOptions = field(default_factory=GenerationOptions)
    max_retries: int = 6
    samples: int = 1
    max_connections: int = 8
    rpm: float | None = None
    max_cost: float | None = None
    cache: bool = True
    cache_dir: str | None = None
    system: str | None = None  # replaces prompts/system.j2
    judge: str | None = None  # a model that grades `criteria` checks instead of their patterns
    batch: bool = False  # each wave of turns through the provider's batch API
    batch_poll_s: float = 5.0  # first wait before asking whether a batch has ended; doubles up to 60s
    prompt_cache: bool = True  # Anthropic cache breakpoints (OpenAI caches by itself)
    threads: int | None = None  # local models: CPU threads of the llama.cpp server (default: half the CPUs)
    ctx: int | None = None  # local models: context tokens per conversation (per server slot)
    probes: ProbeSetting = "all"  # which rubric probes to send once a part is answered

    def settings(self) -> ModelSettings:
        """The connection settings of the run's models (local servers get one slot per connection)."""
        return ModelSettings(
            base_url=self.base_url,
            max_retries=self.max_retries,
            prompt_cache=self.prompt_cache,
            threads=self.threads,
            ctx=self.ctx,
            parallel=self.max_connections,
        )

    def all_models(self) -> tuple[str, ...]:
        return self.models or (self.model,)

    def resolved(self) -> dict[str, str]:
        return {
            "problems": self.problems or str(default_dir("problems") / "*.yaml"),
            "rubrics": self.rubrics or str(default_dir("rubrics")),
            "prompts": self.prompts or str(default_dir("prompts")),
            "runs_dir": self.runs_dir or str(default_dir("runs")),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["options"] = self.options.model_dump()
        data["models"] = list(self.all_models())
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunConfig:
        data = dict(data)
        data["options"] = GenerationOptions(**data.get("options", {}))
        data["models"] = tuple(data.get("models", ()))
        data.setdefault("probes", "none")  # a run from before probes existed sent none
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    model: str
    suite: str
    conversations: tuple[ConversationResult, ...]
    batch: bool = False
    skipped: str | None = None  # the one-line note naming problems an offline run could not replay

    @property
    def parts(self) -> list[PartResult]:
        return [p for c in self.conversations for p in c.parts]

    truncated: Mapping[str, int] = field(default_factory=dict)
    judge: JudgeSpend | None = None  # what the judge (--judge) cost; counted in the totals' cost_usd

    def to_json(self) -> dict[str, Any]:
        return results_json(
            self.run_dir,
            self.model,
            self.suite,
            self.conversations,
            batch=self.batch,
            truncated=self.truncated,
            judge=self.judge,
        )


def _load_inputs(config: RunConfig) -> tuple[dict[str, str], Suite, PromptSet]:
    paths = config.resolved()
    suite = load_suite(paths["problems"], paths["rubrics"])
    prompts = load_prompts(paths["prompts"])
    prompts.system_override = config.system
    prompts.check()
    return paths, suite, prompts


def _execute(
    config: RunConfig,
    model_runs: list[ModelRun],
    suite: Suite,
    prompts: PromptSet,
    listener: Listener | None,
) -> list[RunResult]:
    # the check kinds import torch: only when a run starts
    from evalkit.cache import cached
    from evalkit.checks.criteria import judging, metering

    cache = None
    if config.cache:
        cache = ResponseCache(config.cache_dir) if config.cache_dir else ResponseCache.default()
    settings = ModelSettings(max_retries=config.max_retries)
    # the judge's verdicts are cached like the model's replies: a resumed run does not pay for them twice
    with judging(config.judge, settings, wrap=lambda model: cached(model, cache)) as judge:
        return _execute_judged(
            config, model_runs, suite, prompts, listener, metering if judge else None, cache
        )


def _execute_judged(
    config: RunConfig,
    model_runs: list[ModelRun],
    suite: Suite,
    prompts: PromptSet,
    listener: Listener | None,
    judge_meter: JudgeMetering | None,
    cache: ResponseCache | None,
) -> list[RunResult]:
    limits = CallLimits(
        max_connections=config.max_connections, rpm=config.rpm, max_cost=config.max_cost, batch=config.batch
    )
    for mr in model_runs:
        mr.store.event("run_start", model=mr.model.name, suite=suite.name, resumed=bool(mr.stored_events))
    try:
        asyncio.run(
            execute(
                model_runs,
                suite,
                prompts,
                samples=config.samples,
                probes=config.probes,
                options=config.options,
                limits=limits,
                cache=cache,
                base_url=config.base_url,
                listener=listener,
                batch=BatchPolling(first_s=config.batch_poll_s) if config.batch else None,
                judge_meter=judge_meter,
            )
        )
        out = []
        for mr in model_runs:
            result = RunResult(
                mr.store.path,
                mr.model.name,
                suite.name,
                tuple(mr.conversations),
                batch=config.batch,
                truncated=truncated_replies(RunDir(mr.store.path, {}, None).journal()),
                judge=mr.judge.spent() if mr.judge is not None else None,
            )
            mr.store.write_results(result.to_json())
            # calls: the replies this process asked a provider for (not served from the journal or cache);
            # spent_usd: what they and the judge cost
            mr.store.event(
                "run_end",
                status="complete",
                spent_usd=round(limits.spend.cost_usd, 6),
                calls=limits.spend.calls,
                **({"judge": result.judge.to_json()} if result.judge is not None else {}),
            )
            out.append(result)
        return out
    except BaseException as err:
        for mr in model_runs:
            mr.store.event("run_end", status="interrupted", error=type(err).__name__)
        raise
    finally:
        for mr in model_runs:
            mr.store.close()


def replayable(suite: Suite, models: Sequence[Any]) -> tuple[Suite, str | None]:
    """The part of ``suite`` every replay model among ``models`` has recordings of, and a note on the rest.

    An offline run never breaks on a problem its cassette does not cover: it
    replays what it can and names the others in one line (None when nothing is skipped).
    """
    from evalkit.models.replay import ReplayModel, skipped_note

    replays = [m for m in models if isinstance(m, ReplayModel)]
    if not replays:
        return suite, None
    kept = [lp.id for lp in suite.problems if all(m.covers(lp.id) for m in replays)]
    if len(kept) == len(suite.problems):
        return suite, None
    skipped = [(lp.id, lp.suite, lp.path) for lp in suite.problems if lp.id not in kept]
    return suite.only(kept), skipped_note(", ".join(m.name for m in replays), skipped)


def run_many(
    config: RunConfig, progress: Progress | None = None, listener: Listener | None = None
) -> list[RunResult]:
    """Run the suite for every model in ``config`` concurrently; one run directory per model.

    Offline (replay) models run only the problems their cassettes cover; when
    they cover none, nothing runs, ``progress`` gets the note, and the list is empty.
    """
    progress = progress or (lambda _msg: None)
    preflight(config.all_models(), config.settings())  # no key, no local server: said before any slow step
    names = [expand_alias(m) for m in config.all_models()]
    if config.batch:
        for name in names:
            require_batch_support(name)
    paths, suite, prompts = _load_inputs(config)
    settings = replace(config.settings(), progress=progress)
    models = [resolve_model(name, settings) for name in names]
    for model in models:
        price_for(model.name)  # a malformed price override file stops the run before it starts
    suite, skipped = replayable(suite, models)
    if not suite.problems:
        progress(skipped or "nothing to run")
        return []
    model_runs = []
    for model in models:
        options = options_for(model, config.options)
        run_config = {
            "model": model.name,
            "requested_model": config.model if not config.models else model.name,
            "suite": suite.name,
            "problems": [lp.id for lp in suite.problems],
            "problem_files": [str(lp.path) for lp in suite.problems],
            "content_hash": suite.content_hash,
            "skipped": skipped,
            "paths": paths,
            "base_url": config.base_url,
            "options": options.model_dump(),
            "samples": config.samples,
            "config": {**config.to_json(), "models": [model.name], "model": model.name},
            "versions": package_versions(),
        }
        cassette = getattr(model, "cassette", None)
        if cassette is not None:
            run_config["recorded_model"] = cassette.recorded_model
        describe = getattr(model, "run_record", None)  # a local model: its server, file and hash
        if callable(describe):
            run_config["local"] = describe()
        store = RunStore.create(Path(paths["runs_dir"]), model.name, suite.name, run_config)
        progress(f"run directory: {store.path}")
        model_runs.append(ModelRun(model, store, options=options))
    results = _execute(config, model_runs, suite, prompts, listener)
    return [replace(r, skipped=skipped) for r in results]


def run(config: RunConfig, progress: Progress | None = None, listener: Listener | None = None) -> RunResult:
    """Run every problem of the suite against ``config.model`` and write a run directory.

    Raises :class:`SpecError` with the skipped-problems note when an offline model covers none of them.
    """
    notes: list[str] = []

    def told(message: str) -> None:
        notes.append(message)
        if progress is not None:
            progress(message)

    results = run_many(config, told, listener)
    if not results:
        raise SpecError(notes[-1] if notes else "nothing to run")
    return results[0]


def resume(
    run_ref: str | Path,
    runs_dir: str | Path | None = None,
    progress: Progress | None = None,
    listener: Listener | None = None,
    **overrides: Any,
) -> RunResult:
    """Continue a stopped run: stored replies are reused, the rest is asked; nothing is asked twice.

    ``overrides`` change limits that do not alter the conversation: ``max_cost``, ``max_connections``,
    ``rpm``, ``max_retries``, ``cache``, and a local model's ``threads`` and ``ctx``.
    """
    progress = progress or (lambda _msg: None)
    existing = load_run(run_ref, runs_dir)
    stored = existing.config.get("config")
    if not isinstance(stored, dict):
        raise StoreError(f"{existing.path}/run.json has no run configuration; it cannot be resumed")
    allowed = {"max_cost", "max_connections", "rpm", "max_retries", "cache", "threads", "ctx"}
    unknown = set(overrides) - allowed
    if unknown:
        raise SpecError(
            f"--resume can change only {', '.join(sorted(allowed))}, not {', '.join(sorted(unknown))}"
        )
    config = replace(RunConfig.from_json(stored), **{k: v for k, v in overrides.items() if v is not None})
    _, suite, prompts = _load_inputs(config)
    model = resolve_model(expand_alias(config.model), replace(config.settings(), progress=progress))
    suite, skipped = replayable(suite, [model])
    if suite.content_hash != existing.config.get("content_hash"):
        raise StoreError(
            f"the problems or rubrics changed since {existing.id} started (content hash "
            f"{existing.config.get('content_hash')} -> {suite.content_hash}); use 'evalkit grade' to re-grade, "
            "or start a new run"
        )
    store, events = RunStore.reopen(existing.path)
    progress(
        f"resuming {existing.path} ({sum(1 for e in events if e.get('type') == 'message')} messages stored)"
    )
    # the options the run was started with (a local model's defaults filled in), not worked out anew
    recorded = existing.config.get("options")
    options = (
        GenerationOptions(**recorded) if isinstance(recorded, dict) else options_for(model, config.options)
    )
    run = ModelRun(model, store, events, options=options)
    return replace(_execute(config, [run], suite, prompts, listener)[0], skipped=skipped)


def grade(run_ref: str | Path, runs_dir: str | Path | None = None) -> RegradeResult:
    """Re-run the current checks on a run's stored replies; no model is called.

    A run graded with a judge (``--judge``) is re-graded with the judge's verdicts the response
    cache holds: the same answer under the same rubric gets the same verdict, with no client
    and no key; a verdict not in the cache (the answer or the rubric changed, or the cache was
    cleared) leaves its check ``unscored``, never graded by the patterns instead.
    """
    rd = load_run(run_ref, runs_dir)
    stored = rd.config.get("config")
    if not isinstance(stored, dict):
        raise StoreError(f"{rd.path}/run.json has no run configuration; it cannot be re-graded")
    config = RunConfig.from_json(stored)
    _, suite, prompts = _load_inputs(config)
    asked = rd.config.get("problems")
    if isinstance(asked, list):  # the problems the run had (an offline run skips some)
        suite = suite.only([str(p) for p in asked])
    from evalkit.cache import cache_only
    from evalkit.checks.criteria import judging

    judge = None
    if config.judge is not None:
        spent = ((rd.results or {}).get("totals") or {}).get("judge") or {}
        name = str(spent.get("model") or config.judge)  # the judge as the run resolved it
        cache = ResponseCache(config.cache_dir) if config.cache_dir else ResponseCache.default()
        judge = cache_only(name, cache)
    with judging(judge):
        return regrade_run(rd, suite, prompts, config.samples, config.options, config.probes)


def check(
    kind: str,
    *,
    answer: str | None = None,
    expected: str | None = None,
    assumptions: Sequence[str] = (),
    symbols: Sequence[str] = (),
    accept: Sequence[str] = (),
    problem: str | None = None,
    part: str | None = None,
    answer_file: str | Path | None = None,
    problems: str | None = None,
    rubrics: str | None = None,
) -> CheckResult:
    """Grade one answer: a math kind against ``expected``, or ``code`` against a problem part's code checks."""
    if kind == "code":
        if problem is None or part is None or answer_file is None:
            raise SpecError("check code needs --problem ID --part PART --answer-file FILE")
        try:
            text = Path(answer_file).read_text(encoding="utf-8")
        except OSError as err:
            raise SpecError(f"cannot read the answer file: {err.strerror}", path=answer_file) from None
        suite = load_suite(
            problems or str(default_dir("problems") / "*.yaml"), rubrics or str(default_dir("rubrics"))
        )
        lp = suite.get(problem)
        if part not in lp.rubric.parts:
            raise SpecError(f"problem {problem!r} has no part {part!r} (parts: {', '.join(lp.rubric.parts)})")
        from evalkit.checks.code import grade_code_answer

        return grade_code_answer(lp.problem, part, lp.part_rubric(part).checks, text)
    if answer is None or expected is None:
        raise SpecError(f"check {kind} needs --answer A --expected E")
    from evalkit.checks.quick import check_expression

    return check_expression(kind, answer, expected, assumptions, symbols, accept)


# --- validate / schema -------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationReport:
    """What ``validate`` found: files that are valid, one line per error, and the problems paired with rubrics."""

    checked: list[str]
    errors: list[str]
    problems: tuple[LoadedProblem, ...] = ()
    not_run: tuple[str, ...] = ()  # RUBRIC: what, for each reference validated without running it

    @property
    def ok(self) -> bool:
        return not self.errors


def _kind_of(path: Path) -> str:
    if path.suffix == ".j2" or (path.is_dir() and any(path.glob("*.j2"))):
        return "prompts"
    try:
        data, _ = read_yaml(path)
    except SpecError:  # unreadable: what its directory holds (a broken rubric is still its problem's)
        if path.parent.name == "rubrics":
            return "rubric"
        return "problem" if "problem" in path.parts[-2:-1] else "unknown"
    if isinstance(data, dict) and "problem" in data:
        return "rubric"
    if isinstance(data, dict) and ("cassette" in data or ("opening" in data and "problems" in data)):
        return "cassette"
    return "problem"


def _expand(targets: list[Path], errors: list[str]) -> list[Path]:
    """The files to validate: prompt directories as they are, YAML in directories (and in their
    ``problems/`` and ``rubrics/`` subdirectories, for a project folder)."""
    files: list[Path] = []
    for target in targets:
        if target.is_dir() and any(target.glob("*.j2")):
            files.append(target)
        elif target.is_dir():
            files.extend(find_yaml(target))
            for sub in ("problems", "rubrics", "prompts"):
                if (target / sub).is_dir():
                    files.extend(_expand([target / sub], errors))
        elif target.exists():
            files.append(target)
        else:
            errors.append(f"{target}: not found")
    return list(dict.fromkeys(files))


def _sibling_rubrics(problem_files: list[Path], given: list[Path]) -> list[Path]:
    """Rubrics of the given problems that were not given: in ``rubrics/`` beside each problem's directory."""
    from evalkit.spec.suite import rubric_problem_id

    ids = set()
    for path in problem_files:
        try:
            data, _ = read_yaml(path)
        except SpecError:
            continue
        if isinstance(data, dict) and data.get("id") is not None:
            ids.add(str(data["id"]))
    found: list[Path] = []
    for folder in dict.fromkeys(p.resolve().parent.parent / "rubrics" for p in problem_files):
        for rubric in find_yaml(folder):
            if rubric.resolve() not in {g.resolve() for g in given} and rubric_problem_id(rubric) in ids:
                found.append(rubric)
    return found


def validate(paths: list[str] | None = None, run_references: bool = True) -> ValidationReport:
    """Check problem, rubric, prompt and cassette files; with no paths, the default set.

    Every error is reported, one line each. Every problem found must have a
    rubric (among the files given, or in ``rubrics/`` beside its directory)
    that covers its parts; references and skeletons named by file are loaded.
    A code check that passed before with the same content (parameters, problem
    folder, evalkit's code, torch) does not run torch again (:mod:`evalkit.spec.verified`).

    ``run_references=False`` runs no torch at all (no torch import: ``evalkit validate``
    answers in half a second): references are read, not run — a built-in one's name is
    looked up, an author's file parsed for the name — and an einsum is checked against its
    operands by torch's rules. What a check that did not pass before would have run (an
    author's reference on its cases, a reference's output shape) is listed in
    ``not_run``; ``run_references=True``, a run's loading and ``--selftest`` run it.
    """
    errors: list[str] = []
    targets = (
        [Path(p) for p in paths]
        if paths
        else [default_dir("problems"), default_dir("rubrics"), default_dir("prompts")]
    )
    files = _expand(targets, errors)
    failed: set[str] = set()
    kinds = {path: _kind_of(path) for path in files}
    for path, kind in kinds.items():
        if kind not in ("prompts", "cassette"):
            continue
        try:
            if kind == "prompts":
                load_prompts(path if path.is_dir() else path.parent).check()
            else:
                from evalkit.models.replay import load_cassette

                load_cassette(path)
        except EvalkitError as err:
            errors.extend(_lines(err))
            failed.add(str(path))
    problem_files = [p for p, k in kinds.items() if k in ("problem", "unknown")]
    rubric_files = [p for p, k in kinds.items() if k == "rubric"]
    hint = "rubrics/ beside the problems' directory (or give it to validate)"
    rubrics = [*rubric_files, *_sibling_rubrics(problem_files, rubric_files)]
    from evalkit.spec.verified import VerifiedChecks

    not_run: list[str] | None = None if run_references else []
    loaded, spec_errors = pair_rubrics(problem_files, rubrics, hint, VerifiedChecks.default(), not_run)
    for problem_error in spec_errors:
        errors.extend(_lines(problem_error))
        failed.add(str(problem_error.path))
    checked = [str(p) for p in files if str(p) not in failed]
    return ValidationReport(checked, errors, tuple(loaded), tuple(not_run or ()))


def _lines(err: EvalkitError) -> list[str]:
    return spec_error_lines(err) if isinstance(err, SpecError) else [str(err)]


def selftest(report: ValidationReport) -> list[str]:
    """Grade every rubric example of the problems ``validate`` paired; one line per disagreement."""
    from evalkit.selftest import failures_of

    return failures_of(report.problems)


def schema(kind: str = "all") -> dict[str, Any]:
    """JSON Schema for problems and rubrics (for editor completion)."""
    from evalkit.models.replay import Cassette

    schemas = {
        "problem": Problem.model_json_schema(),
        "rubric": Rubric.model_json_schema(),
        "cassette": Cassette.model_json_schema(),
    }
    if kind == "all":
        return {"$defs": schemas}
    if kind not in schemas:
        raise SpecError(f"unknown schema {kind!r}; expected one of all, {', '.join(schemas)}")
    return schemas[kind]


# --- reading runs --------------------------------------------------------------------------------


def load_run(ref: str | Path, runs_dir: str | Path | None = None) -> RunDir:
    return open_run(ref, Path(runs_dir) if runs_dir else default_dir("runs"))


def runs(runs_dir: str | Path | None = None) -> list[RunDir]:
    directory = Path(runs_dir) if runs_dir else default_dir("runs")
    out = []
    for path in list_runs(directory):
        try:
            out.append(open_run(path))
        except EvalkitError:
            continue
    return out


def summarize_parts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-question rows for tables (one per sample): parts, first try, after hints, failed, points, and
    the probes that went well of those decided."""
    from evalkit.measures import GOOD_OUTCOMES

    rows = []
    for q in results.get("questions", []):
        same = (q["problem"], q.get("sample", 0))
        parts = [p for p in results["parts"] if (p["problem"], p.get("sample", 0)) == same]
        probes = [
            r
            for r in results.get("probes", [])
            if (r["problem"], r.get("sample", 0)) == same and r["outcome"] not in ("not_run", "unscored")
        ]
        rows.append(
            {
                "problem": q["problem"],
                "title": q["title"],
                "parts": len(parts),
                "first_try": sum(1 for p in parts if p["first_attempt_status"] == "correct"),
                "after_hints": sum(
                    1 for p in parts if p["status"] == "correct" and p["first_attempt_status"] != "correct"
                ),
                "failed": sum(1 for p in parts if p["status"] == "incorrect"),
                "unscored": sum(1 for p in parts if p["status"] == "unscored"),
                "hints": sum(p["hints"] for p in parts),
                "points": q["points"],
                "max_points": q["max_points"],
                "sample": q.get("sample", 0),
                "probes_decided": len(probes),
                "probes_good": sum(1 for r in probes if r["outcome"] in GOOD_OUTCOMES),
            }
        )
    return rows


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
