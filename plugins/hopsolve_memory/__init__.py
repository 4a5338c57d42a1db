"""First-party ``memory`` problem plugin (associative memory) and its ``recall`` command."""

from __future__ import annotations

from hopsolve import hookimpl


@hookimpl
def hopsolve_problems(register):
    from hopsolve_memory.plugin import MemoryProblem

    register(MemoryProblem)


@hookimpl
def hopsolve_commands(register, registry):
    from hopsolve_memory import recall

    register("recall", "recall stored patterns from a cue (associative memory)", recall.configure,
             lambda args: recall.run(args, registry))
