"""Trials as cluster jobs (hydra-submitit-launcher: `hydra/launcher=slurm`, `submitit_local`): a job that ends
without a result costs its own trial, not the sweep.

hydra-submitit-launcher waits for a batch of jobs by collecting every job's `results()` in one list, so the
first job that ended without one (cancelled with `scancel`, stopped by its time limit, lost with its node)
raises out of the whole batch, and the sweep dies with its other trials still RUNNING. While the sweeper waits
for a batch, `each_job_on_its_own` makes such a job give its exception in place of its result; the sweeper then
records that trial as abandoned and queues its parameters again (`hpsearch.sweeper`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def each_job_on_its_own() -> Iterator[None]:
    try:
        from submitit.core.core import Job
    except ImportError:  # no submitit: no cluster launcher either
        yield
        return
    original = Job.results

    def results(job):
        try:
            return original(job)
        except Exception as error:  # noqa: BLE001 -- any end without a result, told to the sweeper
            return [error]

    Job.results = results
    try:
        yield
    finally:
        Job.results = original


def lost(error: BaseException) -> bool:
    """Whether a job ended without running to its end (cancelled, timed out, its node lost): its trial is
    run again. A job that ran and failed (it could not import the project, say) is a failed trial instead."""
    from submitit.core.utils import FailedJobError, UncompletedJobError

    return isinstance(error, UncompletedJobError) and not isinstance(error, FailedJobError)
