"""One trial's job in a process of its own, forked from the sweep, that dies with the sweep.

The sweeper keeps `n_jobs` of these running and starts the next trial as soon as any ends, which
Hydra's launchers cannot do (they launch a batch and wait for all of it). A fresh fork per trial
starts in milliseconds (the sweep imported what the app names in `PRELOAD` once, see `preload`),
shares no state with the trials before it, and runs the job exactly as Hydra's basic launcher
would in-process.

The child asks Linux to SIGKILL it when the sweep process dies (PR_SET_PDEATHSIG), so a killed
sweep leaves no orphans finishing trials the study would then record as failed; its result (Hydra's
JobReturn) comes back pickled in a file of the sweep folder. A child that ends without one (killed,
out of memory) is reported as such, and the sweeper runs its parameters again.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1


@dataclass(eq=False)
class TrialProcess:
    pid: int
    result_path: Path
    status: int | None = None  # the exit code, or minus the signal that killed it

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.result_path.unlink(missing_ok=True)


def preload(task_function: Any) -> None:
    """Import, once in the sweep process, the modules the app names in `PRELOAD` (main.py: TensorFlow
    and the stages), so that each forked trial starts with them imported instead of paying for the
    import itself (seconds of CPU for TensorFlow). Their start-up chatter on stderr is silenced.

    The objects imported are then frozen (`gc.freeze`): the garbage collector of each trial no longer
    walks TensorFlow's hundreds of thousands of objects, and leaves their pages shared with the sweep."""
    import gc
    import importlib

    module = sys.modules.get(getattr(task_function, "__module__", ""), None)
    names = getattr(module, "PRELOAD", ())
    if not names:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        for name in names:
            importlib.import_module(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    gc.freeze()


def die_with(parent: int) -> None:
    """In a child: be killed when `parent` dies (Linux), and exit now if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def launch_forked(launcher: Any, overrides: list[str], index: int, sweep_dir: Path) -> TrialProcess:
    """Start `launcher.launch([overrides], initial_job_idx=index)` in a forked child."""
    result_path = Path(sweep_dir) / f".trial_{index}.{os.getpid()}.result"
    result_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: run the job, leave its result, and exit without running the parent's atexit hooks
        code = 1
        try:
            die_with(parent)
            try:
                result = launcher.launch([overrides], initial_job_idx=index)[0]
            except Exception as error:  # noqa: BLE001 -- the job's config did not compose: the trial failed
                result = failed_job(error)
            try:
                payload = pickle.dumps(result)
            except Exception:  # a return value that cannot be pickled: keep what the sweeper needs
                result.return_value = RuntimeError(f"the job returned {type(result._return_value).__name__}, "
                                                   "which cannot be sent back to the sweep")
                payload = pickle.dumps(result)
            temporary = result_path.with_suffix(".tmp")
            temporary.write_bytes(payload)
            temporary.replace(result_path)
            code = 0
        except BaseException:  # noqa: BLE001 -- reported by the missing result; the traceback goes to stderr
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return TrialProcess(pid, result_path)


def failed_job(error: Exception) -> Any:
    """The JobReturn of a job that failed before it ran (its config did not compose): a FAIL trial, with
    the error, rather than a process without a result, which the sweeper would run again and again."""
    from hydra.core.utils import JobReturn, JobStatus

    result = JobReturn()
    result.status = JobStatus.FAILED
    result.return_value = error
    return result


def wait_for_any(processes: list[TrialProcess]) -> tuple[TrialProcess, Any | None]:
    """Block until one of `processes` ends; returns it and its JobReturn (None if it left none)."""
    by_pid = {process.pid: process for process in processes}
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid in by_pid:
            break
    process = by_pid[pid]
    process.status = os.waitstatus_to_exitcode(status)
    result = None
    if process.result_path.exists():
        with contextlib.suppress(Exception):  # a result cut short: as good as none
            result = pickle.loads(process.result_path.read_bytes())
        process.result_path.unlink(missing_ok=True)
    return process, result
