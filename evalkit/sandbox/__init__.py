"""Running untrusted code: isolation, limits, warm workers; returns data, never verdicts.

A model's code runs in a child forked from a warm worker (a "zygote" that
imported torch once and never holds a job's data), one child per job, in fresh
pid, mount, network, IPC and UTS namespaces, on a read-only root without the
repo, as an unprivileged uid with no capabilities, with a keyring of its own,
under a seccomp filter, and under CPU, memory, file-size, process,
file-descriptor and output limits (for all of a check's processes together
where cgroups are writable). The child reports tensors and errors; the caller
compares them with its own reference. See ``docs/sandbox.md`` for the layers
and the bubblewrap fallback. Example::

    from evalkit.sandbox import Call, Job, Limits, SandboxPool

    with SandboxPool.start() as pool:
        outcome = pool.run(Job(source, (Call("f", (x,)),), Limits(cpu_s=2)))
        y = outcome.calls[0].outputs[0]
"""

from evalkit.sandbox.jobs import (
    Call,
    CallOutcome,
    ErrorInfo,
    Job,
    Limits,
    RunOutcome,
    Termination,
    TracebackFrame,
)
from evalkit.sandbox.pool import Isolation, SandboxPool, default_pool

__all__ = [
    "Call",
    "CallOutcome",
    "ErrorInfo",
    "Isolation",
    "Job",
    "Limits",
    "RunOutcome",
    "SandboxPool",
    "Termination",
    "TracebackFrame",
    "default_pool",
]
