"""The ``evalkit`` command: parse arguments, call :mod:`evalkit.api`, turn errors into one line.

Machine-readable output (``--json``) goes to stdout; progress and messages go
to stderr, so stdout stays parseable.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.exceptions import TyperException

from evalkit.errors import BudgetExceeded, EvalkitError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from evalkit import api
else:

    class _Deferred(ModuleType):
        """``evalkit.api``, imported at its first use: ``evalkit --help`` and usage errors need none of it."""

        def __getattr__(self, name: str) -> Any:
            return getattr(importlib.import_module("evalkit.api"), name)

    api = _Deferred("evalkit.api")


class _ReadableArgument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the name column says it (RUN, PATH...); '<list[str]>' would say nothing more


def _readable(params: list[Any]) -> list[Any]:
    """Help a person reads: a flag shows no value (not ``<bool>``), a repeatable option its metavar
    (not ``<list[str]>``), an argument its name in capitals."""
    for param in params:
        if isinstance(param, TyperOption):
            if param.is_flag and param.metavar is None:
                param.metavar = ""
            elif param.multiple and param.metavar is None:
                param.metavar = (param.name or "value").upper()
        elif isinstance(param, TyperArgument) and not isinstance(param, _ReadableArgument):
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            param.__class__ = _ReadableArgument
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _readable(super().get_params(ctx))


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    help="Evaluate how well an LLM tutors and solves technical homework.",
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # ":100:" is a line number
out_console = Console(highlight=False, emoji=False)

_STATE = {"debug": False}


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    _STATE["debug"] = debug or bool(os.environ.get("EVALKIT_DEBUG"))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


_MARK = {"correct": "[green]✓[/]", "incorrect": "[red]✗[/]", "unscored": "[yellow]?[/]"}


def _verdict(part: dict[str, Any]) -> str:
    if part["status"] == "correct":
        if part["first_attempt_status"] == "correct":
            return "[green]✓ first try[/]"
        return f"[green]✓ after hint {part['became_correct_at'] - 1}[/]"
    if part["status"] == "unscored":
        return "[yellow]? unscored[/]"
    from evalkit.progress import plural

    return "[red]✗[/]" + (f" ({plural(part['hints'], 'hint')})" if part["hints"] else "")


def print_summary(results: dict[str, Any], console: Console) -> None:
    """The per-question table and the per-part verdicts."""
    from evalkit.progress import plural

    table = Table(title=f"{results['model']} on {results['suite']}", title_justify="left")
    table.add_column("q", no_wrap=True, min_width=3)
    table.add_column("title", no_wrap=True, overflow="ellipsis", max_width=24)
    rows = api.summarize_parts(results)
    probed = any(row["probes_decided"] for row in rows)
    sampled = len({row["sample"] for row in rows}) > 1
    if sampled:
        table.add_column("sample", justify="right", no_wrap=True)
    for col in ("parts", "1st", "hinted", "failed", "?", "points", *(("probes",) if probed else ())):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for row in rows:
        table.add_row(
            row["problem"],
            row["title"],
            *((str(row["sample"]),) if sampled else ()),
            str(row["parts"]),
            str(row["first_try"]),
            str(row["after_hints"]),
            str(row["failed"]),
            str(row["unscored"]),
            f"{row['points']:g}/{row['max_points']:g}",
            *(
                (f"{row['probes_good']}/{row['probes_decided']}" if row["probes_decided"] else "—",)
                if probed
                else ()
            ),
        )
    console.print(table)
    verdicts = "  ".join(f"{p['problem']}.{p['part']} {_verdict(p)}" for p in results["parts"])
    console.print(verdicts)
    t = results["totals"]
    cached = t.get("cache_read_tokens") or 0
    from_cache = f" ({cached:,} from the prompt cache)" if cached else ""
    console.print(
        f"{t['correct']}/{t['parts']} parts correct, {t['first_try']} on the first try, "
        f"{plural(t['hints'], 'hint')} sent; "
        f"{t['input_tokens']:,} input{from_cache} + {t['output_tokens']:,} output tokens"
        + (f", ${t['cost_usd']:.4f}" if t.get("cost_usd") else "")
    )
    judge = t.get("judge")
    if judge:
        console.print(
            f"judge {judge['model']}: {judge['calls']} calls, {judge['input_tokens']:,} input + "
            f"{judge['output_tokens']:,} output tokens, ${judge['cost_usd']:.4f} (in the total)"
        )
    from evalkit.measures import tutoring_line

    line = tutoring_line(results["measures"]["model"]) if results.get("measures") else None
    if line:
        console.print(line)
    if results.get("measures", {}).get("samples", 1) > 1:
        console.print(_rates_line(results["measures"]))
    for q in results["questions"]:
        if q.get("stopped"):
            console.print(f"[yellow]{q['problem']} stopped early:[/] {_escape(str(q['stopped']))}")
    cut = t.get("truncated_replies") or 0
    if cut:
        console.print(
            f"[yellow]{plural(cut, 'reply', 'replies')} {'was' if cut == 1 else 'were'} cut off at the length limit[/] "
            "(stop=length): raise --max-tokens (or --ctx for a local model)"
        )


class ProbeChoice(enum.StrEnum):
    none = "none"
    challenge = "challenge"
    all = "all"


def _rates_line(m: dict[str, Any]) -> str:
    """Every rate of a sampled run with its counts, 95% interval and pass@k, on one line."""
    from evalkit.measures import RATES, format_rate

    shown = [
        f"{label} {format_rate(m['model'][name])}"
        for name, label in RATES.items()
        if (m["model"].get(name) or {}).get("n")
    ]
    return f"over {m['samples']} samples: " + "; ".join(shown)


@app.command(cls=_Command)
def run(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Alias (claude, gpt, replay, local) or provider:model; repeat for several.",
        ),
    ] = None,
    problems: Annotated[str | None, typer.Option(help="Problem files: a file, directory or glob.")] = None,
    rubrics: Annotated[str | None, typer.Option(help="Rubric directory.")] = None,
    prompts: Annotated[str | None, typer.Option(help="Prompt template directory.")] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Where run directories go (default runs/).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible server (vLLM, llama.cpp, Ollama) or proxy URL.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the provider's; 0 for local).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Sampling seed, for OpenAI-compatible servers (local: 0).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Maximum output tokens per reply (default: 8192; local: 2048).")
    ] = None,
    thinking_budget: Annotated[
        int | None, typer.Option(help="Claude extended thinking budget (tokens, ≥1024).")
    ] = None,
    samples: Annotated[int, typer.Option(min=1, help="Conversations per problem and model.")] = 1,
    max_connections: Annotated[
        int | None, typer.Option(min=1, help="Model requests in flight at once (default: 8).")
    ] = None,
    rpm: Annotated[
        float | None, typer.Option(help="Requests per minute per run (provider rate limit).")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="Stop (resumably) once this many dollars are spent.")
    ] = None,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per call on 429/5xx/timeouts.")] = 6,
    system: Annotated[
        str | None, typer.Option("--system", help="System prompt (replaces prompts/system.j2; '' for none).")
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="A model that grades explanation (criteria) checks.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not read or write the response cache.")
    ] = False,
    batch: Annotated[
        bool, typer.Option("--batch", help="Send each wave of turns through the provider's batch API.")
    ] = False,
    prompt_cache: Annotated[
        bool, typer.Option("--prompt-cache/--no-prompt-cache", help="Anthropic prompt-cache breakpoints.")
    ] = True,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Local model: CPU threads (default: half the CPUs).")
    ] = None,
    ctx: Annotated[
        int | None,
        typer.Option(min=256, help="Local model: context tokens per conversation (default: 8192)."),
    ] = None,
    probes: Annotated[
        ProbeChoice,
        typer.Option(
            "--probes",
            help="Student probes to send once a part is answered: none, challenge (pushback only) or all.",
        ),
    ] = ProbeChoice.all,
    resume_run: Annotated[
        str | None, typer.Option("--resume", metavar="RUN", help="Continue a stopped run.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    write_report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html (and report.pdf with TeX).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")] = False,
) -> None:
    """Run the tutoring conversations and grade them (offline replay of the write-up by default)."""
    from evalkit.progress import ProgressDisplay

    _interrupt_on_sigterm()  # a SIGTERM ends the run like Ctrl-C: journal closed, local server stopped
    _stop_grading_on_signals()
    display = ProgressDisplay(err_console, quiet=quiet)
    try:
        with display:
            if resume_run is not None:
                results = [
                    api.resume(
                        resume_run,
                        out,
                        progress=display.message,
                        listener=display.listener,
                        max_cost=max_cost,
                        max_connections=max_connections,
                        rpm=rpm,
                        cache=False if no_cache else None,
                        threads=threads,
                        ctx=ctx,
                    )
                ]
            else:
                models = tuple(model or ("replay",))
                from evalkit.models.base import GenerationOptions

                given = {"max_tokens": max_tokens} if max_tokens is not None else {}
                options = GenerationOptions(
                    temperature=temperature, thinking_budget=thinking_budget, seed=seed, **given
                )
                config = api.RunConfig(
                    model=models[0],
                    models=models if len(models) > 1 else (),
                    problems=problems,
                    rubrics=rubrics,
                    prompts=prompts,
                    runs_dir=out,
                    base_url=base_url,
                    options=options,
                    max_retries=max_retries,
                    samples=samples,
                    max_connections=max_connections or api.RunConfig.max_connections,
                    rpm=rpm,
                    max_cost=max_cost,
                    cache=not no_cache,
                    system=system,
                    judge=judge,
                    batch=batch,
                    prompt_cache=prompt_cache,
                    threads=threads,
                    ctx=ctx,
                    probes=probes.value,
                )
                display.expect(config)
                said_last: list[str] = []

                def progress(message: str) -> None:
                    said_last[:] = [message]
                    display.message(message)

                results = api.run_many(config, progress=progress, listener=display.listener)
                if not results:  # an offline model has no recording of any selected problem: say so
                    if quiet and said_last:
                        err_console.print(_escape(said_last[0]), soft_wrap=True)
                    return
    except KeyboardInterrupt:
        where = display.run_dirs[-1] if display.run_dirs else "RUN"
        err_console.print(f"interrupted; nothing is lost. Continue with: evalkit run --resume {where}")
        raise typer.Exit(130) from None
    except BudgetExceeded as err:
        err_console.print(f"[yellow]stopped:[/] {_escape(str(err))}")
        raise typer.Exit(2) from None
    said: set[str] = set()

    def say_once(message: str) -> None:
        if message not in said and not quiet:
            said.add(message)
            err_console.print(_escape(message), soft_wrap=True)

    for result in results:
        if write_report:
            from evalkit.report import write_run_reports

            for path in write_run_reports(result.run_dir, say_once):
                say_once(f"wrote {path}")
        if as_json and len(results) > 1:  # stdout holds the one JSON list below, and nothing else
            err_console.print(f"run directory: {result.run_dir}")
        else:
            _after_run(result, as_json)
    if as_json and len(results) > 1:
        _print_json([r.to_json() for r in results])


def _stop_grading_on_signals() -> None:
    """On Ctrl-C or SIGTERM, kill the math workers and the sandbox at once, from a thread of their own.

    The run stops in the event loop (its task is cancelled), but asyncio then waits for the threads
    that grade replies, and those wait for a sandbox zygote to start, a job to end or a math worker
    to answer: seconds. Killed, their pools raise KeyboardInterrupt in those threads, which records
    nothing (a resume grades those replies again), and the run exits at once. A signal handler
    cannot do this itself (it runs in the main thread only when the event loop gives way, and it is
    asyncio's), so the interpreter's wakeup fd tells a thread here which signal came.
    """
    import signal
    import threading

    if (
        _STATE.get("watching")
        or not _is_evalkit_process()
        or threading.current_thread() is not threading.main_thread()
    ):
        return  # stopping is for good: not in a process that goes on after the command (tests, scripts)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:
        previous = None
    if previous != -1:  # someone else's wakeup fd (or none possible): leave it be
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        return
    _STATE["watching"] = True
    stopping = {int(signal.SIGINT), int(signal.SIGTERM)}

    def watch() -> None:
        while data := os.read(read_fd, 64):
            if stopping.intersection(data):
                for name in ("evalkit.bounded", "evalkit.sandbox.pool"):  # only pools that exist
                    module = sys.modules.get(name)
                    if module is not None:
                        module.stop()

    threading.Thread(target=watch, name="evalkit-stop-on-signal", daemon=True).start()


def _interrupt_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt in the main thread, so a run stops the way Ctrl-C stops it."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: Any) -> None:
        # Inside asyncio.run, Ctrl-C's handler is asyncio's: it cancels the running task, which then ends
        # as KeyboardInterrupt. Raising here instead could land in a weakref callback or __del__, where
        # Python prints the exception and drops it, and the run would go on.
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _after_run(result: api.RunResult, as_json: bool) -> None:
    data = result.to_json()
    if as_json:
        _print_json(data)
    else:
        print_summary(data, out_console)
    if result.skipped:
        err_console.print(_escape(result.skipped), soft_wrap=True)
    err_console.print(f"run directory: {result.run_dir}")


@app.command(cls=_Command)
def grade(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run directory, its name, or 'latest'.")],
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Re-grade a run's stored replies with the current checks (no model is called)."""
    result = api.grade(run_ref, runs_dir)
    if as_json:
        _print_json(result.results)
        return
    for change in result.changes:
        before = change["before"] or {}
        if "probe" in change:
            err_console.print(
                f"{change['problem']}.{change['part']} probe {change['probe']}: "
                f"{before.get('outcome')} -> {change['after']['outcome']}"
            )
            continue
        err_console.print(
            f"{change['problem']}.{change['part']}: {before.get('status')} -> {change['after']['status']}"
            f" (first try {before.get('first_attempt_status')} -> {change['after']['first_attempt_status']})"
        )
    for d in result.divergences:
        err_console.print(f"[yellow]diverges[/] {d.conv} at turn {d.index}: {_escape(d.reason)}")
    if not result.changes and not result.divergences:
        err_console.print("no verdict changed")
    print_summary(result.results, out_console)
    err_console.print(f"new results: {result.path}")


cache_app = typer.Typer(cls=_Group, help="The response cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info", cls=_Command)
def cache_info() -> None:
    """Where the cache is, and how many replies it holds."""
    from evalkit.cache import ResponseCache

    info = ResponseCache.default().info()
    out_console.print(
        f"{info.path}: {info.entries} cached replies, {info.bytes / 1e6:.1f} MB", soft_wrap=True
    )


@cache_app.command("clear", cls=_Command)
def cache_clear() -> None:
    """Delete every cached reply, and the record of code checks that passed validation."""
    from evalkit.cache import ResponseCache
    from evalkit.progress import plural
    from evalkit.spec.verified import VerifiedChecks

    count = ResponseCache.default().clear()
    checks = VerifiedChecks.default().clear()
    err_console.print(
        f"removed {plural(count, 'cached reply', 'cached replies')} and "
        f"{plural(checks, 'recorded validation', 'recorded validations')}"
    )


@app.command(cls=_Command)
def check(
    kind: Annotated[str, typer.Argument(help="formula, complexity, vector, condition or code.")],
    answer: Annotated[str | None, typer.Option(help="The answer (LaTeX or text).")] = None,
    expected: Annotated[str | None, typer.Option(help="The expected answer.")] = None,
    assume: Annotated[
        list[str] | None,
        typer.Option(metavar="ASSUMPTION", help="An assumption, e.g. 'k = d/h'; repeatable."),
    ] = None,
    symbols: Annotated[
        list[str] | None,
        typer.Option(metavar="NAMES", help="Declared symbols, e.g. 'b n d h k' or 'mu:scalar q:vector'."),
    ] = None,
    accept: Annotated[
        list[str] | None, typer.Option(metavar="ANSWER", help="Another accepted answer; repeatable.")
    ] = None,
    problem: Annotated[str | None, typer.Option(help="code: the problem id.")] = None,
    part: Annotated[str | None, typer.Option(help="code: the part id.")] = None,
    answer_file: Annotated[
        str | None, typer.Option(help="code: a reply (Markdown with code blocks).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Grade one answer, for problem authors: prints the verdict and why."""
    if kind != "code":  # main() started the math worker already, before the arguments were parsed
        from evalkit.bounded import prestart

        prestart()
    result = api.check(
        kind,
        answer=answer,
        expected=expected,
        assumptions=assume or (),
        symbols=symbols or (),
        accept=accept or (),
        problem=problem,
        part=part,
        answer_file=answer_file,
    )
    if as_json:
        _print_json({"status": result.status, "explanation": result.explanation, "reason": result.reason})
    else:
        out_console.print(f"{_MARK[result.status]} {result.status}: {_escape(result.explanation)}")
    if result.status != "correct":
        raise typer.Exit(1)


@app.command(cls=_Command)
def validate(
    paths: Annotated[
        list[str] | None, typer.Argument(metavar="PATH", help="Files or directories (default: all).")
    ] = None,
    problems: Annotated[
        str | None, typer.Option(help="Problem files, as for run: a file, directory or glob.")
    ] = None,
    rubrics: Annotated[str | None, typer.Option(help="Rubric directory, as for run.")] = None,
    prompts: Annotated[str | None, typer.Option(help="Prompt template directory, as for run.")] = None,
    selftest: Annotated[
        bool, typer.Option("--selftest", help="Also grade every rubric example and compare verdicts.")
    ] = False,
) -> None:
    """Check problem, rubric, prompt and cassette files: every error, and a rubric for every problem.

    Takes the files as paths, or as run takes them: --problems, --rubrics, --prompts. An author's
    reference code is read here, and run by --selftest (and by a run, before its first call).
    """
    targets = list(paths or ())
    if problems is not None:
        from evalkit.spec.suite import find_yaml

        targets += [str(p) for p in find_yaml(problems)] or [problems]  # nothing matched: 'not found'
    targets += [d for d in (rubrics, prompts) if d is not None]
    report = api.validate(targets or None, run_references=selftest)
    for line in report.errors:
        err_console.print(f"[red]error[/] {_escape(line)}", soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)
    from evalkit.progress import plural

    err_console.print(f"[green]ok[/] {plural(len(report.checked), 'file')} valid")
    if report.not_run:
        _print_not_run(report.not_run)
    if selftest:
        _selftest(report)


@app.command(cls=_Command)
def schema(
    kind: Annotated[str, typer.Argument(help="problem, rubric, cassette or all.")] = "all",
) -> None:
    """Print JSON Schema for problem and rubric files (for editor completion)."""
    _print_json(api.schema(kind))


@app.command("runs", cls=_Command)
def list_runs(
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
) -> None:
    """List run directories."""
    rows = []
    for r in api.runs(runs_dir):
        totals = (r.results or {}).get("totals")
        correct = f"{totals['correct']}/{totals['parts']}" if totals else "(incomplete)"
        hints = str(totals["hints"]) if totals else ""
        rows.append((r.id, str(r.config.get("model")), str(r.config.get("suite")), correct, hints))
    heads = ("run", "model", "suite", "correct", "hints")
    widths = [max([len(head), *(len(row[k]) for row in rows)]) for k, head in enumerate(heads)]
    if out_console.is_terminal:
        widths = _fit_run_table(widths, out_console.width)
    table = Table(box=box.SIMPLE_HEAD)
    for k, head in enumerate(heads):
        table.add_column(head, width=widths[k], overflow="fold", justify="right" if k > 2 else "left")
    for row in rows:
        table.add_row(*row)
    _wide_enough(out_console, table).print(table)


def _fit_run_table(widths: list[int], total: int) -> list[int]:
    """Column widths of the runs table in a terminal ``total`` wide: the run id is never cut.

    A run id is what ``show``, ``report`` and ``--resume`` take. The model and suite columns wrap first
    (down to 5 characters); a terminal too narrow even then folds the id onto more lines, whole.
    """
    chrome = 3 * len(widths) + 1  # a space of padding either side of each column, and a rule (blank) between
    if sum(widths) + chrome <= total:
        return widths
    run, model, suite, *fixed = widths
    least = [min(model, 5), min(suite, 5)]
    room = total - chrome - sum(fixed) - run
    if room < sum(least):  # the id folds
        return [max(total - chrome - sum(fixed) - sum(least), 16), *least, *fixed]
    extra = room - sum(least)  # shared by model and suite, in proportion to what they would take
    wanted = (model - least[0]) + (suite - least[1])
    give_model = extra * (model - least[0]) // wanted if wanted else 0
    return [run, least[0] + give_model, least[1] + extra - give_model, *fixed]


def _wide_enough(console: Console, table: Table) -> Console:
    """``console``, or for a pipe or file (not a terminal) one as wide as the table: nothing wraps there."""
    if console.is_terminal:
        return console
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if width <= console.width:
        return console
    return Console(file=console.file, width=width, highlight=False, no_color=console.no_color, emoji=False)


@app.command(cls=_Command)
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run directory, its name, or 'latest'.")
    ] = "latest",
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Print a run's summary table."""
    run_dir = api.load_run(run_ref, runs_dir)
    if run_dir.results is None:
        raise EvalkitError(f"{run_dir.path}: the run has no results.json (it did not finish)")
    if as_json:
        _print_json(run_dir.results)
    else:
        print_summary(run_dir.results, out_console)


def _print_not_run(not_run: Sequence[str], shown: int = 5) -> None:
    """The references validate read but did not run (new or changed since they last passed)."""
    from evalkit.progress import plural

    err_console.print(
        f"[yellow]note[/] {plural(len(not_run), 'reference')} read, not run (new or changed since "
        "they last passed); evalkit validate --selftest runs them, as a run does before its first call:",
        soft_wrap=True,
    )
    for line in not_run[:shown]:
        err_console.print(f"  {_escape(line)}", soft_wrap=True)
    if len(not_run) > shown:
        err_console.print(f"  and {len(not_run) - shown} more")


def _selftest(report: api.ValidationReport) -> None:
    """Grade every rubric example of the validated problems; exit 1 on any disagreement."""
    failures = api.selftest(report)
    for line in failures:
        err_console.print(f"[red]self-test[/] {_escape(line)}", soft_wrap=True)
    if failures:
        from evalkit.progress import plural

        count = plural(len(failures), "rubric example")
        err_console.print(f"[red]{count} graded differently than declared[/]")
        raise typer.Exit(1)
    err_console.print("[green]ok[/] every rubric example gets its declared verdict")


@app.command("grade-transcript", cls=_Command)
def grade_transcript(
    file: Annotated[str, typer.Argument(metavar="FILE", help="Write-up, Markdown or JSON transcript.")],
    problems: Annotated[str | None, typer.Option(help="Problem files: a file, directory or glob.")] = None,
    rubrics: Annotated[str | None, typer.Option(help="Rubric directory.")] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Where run directories go (default runs/).")
    ] = None,
    judge: Annotated[
        str | None, typer.Option(help="Model that grades 'criteria' checks (default: their keywords).")
    ] = None,
    transcript_format: Annotated[
        str,
        typer.Option(
            "--format", help="auto, writeup, markdown, json, chatgpt, claude (data exports) or pdf."
        ),
    ] = "auto",
    conversation: Annotated[
        str | None,
        typer.Option(
            "--conversation", help="In a ChatGPT or Claude.ai export: the conversation's id or title."
        ),
    ] = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help="Only the problems of this homework (e.g. hw9).")
    ] = None,
    write_report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write report.html (and report.pdf with TeX).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")] = False,
) -> None:
    """Grade a finished conversation with the rubrics, as if it had been a run."""
    from evalkit.transcript import grade_transcript as grade

    result = grade(
        file,
        problems=problems,
        rubrics=rubrics,
        runs_dir=out,
        judge=judge,
        format=transcript_format,  # type: ignore[arg-type]
        progress=lambda msg: err_console.print(_escape(msg), soft_wrap=True),
        conversation=conversation,
        suite=suite,
        report=write_report,
    )
    data = result.to_json()
    if as_json:
        _print_json(data)
    else:
        print_summary(data, out_console)
    err_console.print(f"run directory: {result.run_dir}")


new_app = typer.Typer(cls=_Group, help="Scaffold new files.", no_args_is_help=True)
app.add_typer(new_app, name="new")


@new_app.command("problem", cls=_Command)
def new_problem(
    name: Annotated[str, typer.Argument(help="Problem id and file name, e.g. hw10_q1.")],
    code: Annotated[
        bool,
        typer.Option(
            "--code", help="Make part (a) a code part, with problems/NAME/reference.py and skeleton.py."
        ),
    ] = False,
) -> None:
    """Create problems/NAME.yaml and rubrics/NAME.yaml that validate and self-test as written."""
    from evalkit.authoring import new_problem as scaffold

    for path in scaffold(name, code=code):
        err_console.print(f"created {_escape(str(path))}", soft_wrap=True)
    err_console.print("edit them, then check with: evalkit validate --selftest")


# --- reports (logic in evalkit/report) -------------------------------------------------------------


@app.command(cls=_Command)
def report(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run directory, its name, or 'latest'.")
    ] = "latest",
    report_format: Annotated[str, typer.Option("--format", "-f", help="html, latex or pdf.")] = "html",
    out: Annotated[
        str | None, typer.Option("--out", help="Output file (default: RUN/report.html, .tex or .pdf).")
    ] = None,
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
    sample: Annotated[
        int | None,
        typer.Option(help="Report only this sample (from 0) of a run with --samples (default: all)."),
    ] = None,
) -> None:
    """Write a run's report: self-contained HTML, LaTeX source, or PDF (needs latexmk).

    A reviewer's notes in RUN/notes.yaml appear in the margins (format: evalkit/report/notes.py).
    """
    from evalkit.report import write_report

    path = write_report(api.load_run(run_ref, runs_dir), report_format, out, sample)  # type: ignore[arg-type]
    err_console.print(f"wrote {_escape(str(path))}", soft_wrap=True)


@app.command(cls=_Command)
def compare(
    run_refs: Annotated[list[str], typer.Argument(metavar="RUN", help="Two or more runs to compare.")],
    out: Annotated[
        str | None,
        typer.Option("--out", help="Where to write the comparison as HTML (default: beside the runs)."),
    ] = None,
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
) -> None:
    """Compare runs per question and part: first try / after hints / failed, tokens, cost."""
    from evalkit.report import compare_runs, comparison_table, write_comparison
    from evalkit.report.compare import rates_table

    comparison = compare_runs([api.load_run(ref, runs_dir) for ref in run_refs])
    out_console.print(comparison_table(comparison))
    if comparison.rates:
        out_console.print(rates_table(comparison))
    path = write_comparison(comparison, out)
    err_console.print(f"wrote {_escape(str(path))}", soft_wrap=True)


@app.command(cls=_Command)
def export(
    run_refs: Annotated[list[str], typer.Argument(metavar="RUN", help="Runs to export.")],
    export_format: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    out: Annotated[
        str | None,
        typer.Option("--out", help="Output file (default: RUN/parts.csv, or beside the runs for several)."),
    ] = None,
    runs_dir: Annotated[str | None, typer.Option("--dir", help="Runs directory.")] = None,
) -> None:
    """Write the per-part results of runs as a table (one row per run and part)."""
    from evalkit.report import export_parts

    path = export_parts([api.load_run(ref, runs_dir) for ref in run_refs], export_format, out)  # type: ignore[arg-type]
    err_console.print(f"wrote {_escape(str(path))}", soft_wrap=True)


def main() -> None:
    """Console entry point: one red line and exit code 1 for EvalkitError (2 for usage errors)."""
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    if words[:1] == ["check"] and words[1:2] != ["code"]:
        # A math check is graded in a worker, a fresh interpreter that takes half a second to load
        # sympy: start it now, while the arguments are parsed and evalkit loads (prestart() is a no-op
        # when a worker is idle or starting, so the check command's own call finds this one).
        from evalkit.bounded import prestart

        prestart()
    code = _dispatch()
    if _is_evalkit_process():
        _exit_now(code)
    sys.exit(code)


def _is_evalkit_process() -> bool:
    """Whether this process is the ``evalkit`` command (or ``python -m evalkit.cli``), not a caller of main()."""
    return getattr(sys.modules.get("__main__"), "main", None) is main


def _dispatch() -> int:
    try:
        code = app(standalone_mode=False)
        return code if isinstance(code, int) else 0
    except EvalkitError as err:
        if _STATE["debug"]:
            raise
        err_console.print("[red]error:[/] " + _escape(str(err)), soft_wrap=True)
        return 1
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except TyperException as err:  # usage errors: unknown option, bad value, missing argument
        hint = " (see 'evalkit --help')" if "--help" not in err.format_message() else ""
        err_console.print("[red]error:[/] " + _escape(err.format_message()) + hint, soft_wrap=True)
        return err.exit_code
    except Exception as err:
        if _STATE["debug"]:
            raise
        err_console.print(
            f"[red]internal error:[/] {type(err).__name__}: {_escape(str(err))} (rerun with --debug for a traceback)",
            soft_wrap=True,
        )
        return 3


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down: the exit handlers run, then ``os._exit``.

    With torch and sympy loaded, the interpreter's own teardown (its last garbage collection over
    millions of objects, then every module) takes a second or more after the command has finished,
    Ctrl-C included. Nothing evalkit writes waits for it: the journal is written with ``os.write``
    and fsynced, other files are closed where they are written, and the atexit handlers (the math
    workers, the sandbox, a local server, the TeX guard, logging) still run here. A thread that the
    interpreter would wait for is waited for: then the exit is the ordinary one.
    """
    import atexit
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    _flush()
    atexit._run_exitfuncs()  # each handler's error is printed, as at an ordinary exit
    _flush()
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(" ".join(text.split("\n")))


if __name__ == "__main__":
    main()
