"""`python main.py ...` for the tests, without paying TensorFlow's import (8 s of CPU) on every call.

Run as a process of its own, it imports everything `main.py` imports, TensorFlow included, but runs
no TensorFlow op; then, for each request (a JSON line on stdin), it forks a child that becomes
`python main.py <args>`: its own working folder, environment, stdin pipe, stdout and stderr files,
`sys.argv`, and `main.py` executed as `__main__`. Its exit status (or the negative number of the
signal that killed it, as `subprocess` reports it) goes back as a JSON line on stdout.

A request may give `code` to run instead, as `python -c code args` would (tests that use TensorFlow
alone, e.g. to serve an exported model, in a process that ran nothing of the project).

A request with `other_project` runs the main.py of a copy of the project: the child forgets the
project's modules first and imports the copy's (see `forget_project_modules`).

A request with `warnings_as_errors` runs it as `python -W error` would: any warning raised while it runs
is an exception (as the published hydra-optuna-sweeper's tests run their apps). Warnings of the imports
the server made before forking are not seen again: a test of those runs a fresh `python -W error`.

A request with `research_models` registers the models of `tests/research_models/` in the child first
(`model=guide_vae`, `model=gan`), as if they were files of `models/`.

With `TEST_SERVER_LOG=<file>` in the tests' environment, each command appends a JSON line to the file:
the test that ran it, its arguments, exit status, wall and CPU seconds (to see where the suite's time goes).

A request may name a `fault` (see `tests/faults.py`): the child installs it before running
`main.py`, e.g. to SIGKILL itself between two writes of a checkpoint.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import signal
import sys
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])  # whose main.py


def preload() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(PROJECT_ROOT))
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(devnull, 2)  # TensorFlow's start-up chatter
    try:
        import keras  # noqa: F401
        import matplotlib.backends.backend_agg  # noqa: F401 -- the pictures every finished run draws
        import matplotlib.pyplot  # noqa: F401
        import mlflow  # noqa: F401 -- logger=mlflow
        import optuna.importance  # noqa: F401 -- scikit-learn, for the parameter importances a sweep plots
        import optuna.visualization  # noqa: F401 -- plotly, for a sweep's HTML plots
        import optuna.visualization.matplotlib  # noqa: F401 -- a sweep's PNG plots
        import rich.tree  # noqa: F401 -- the config a run prints
        import tensorboard.summary  # noqa: F401 -- what tf.summary loads on a run's first record
        import tensorflow  # noqa: F401
        import wandb  # noqa: F401 -- logger=wandb (a second of CPU to import)

        import hpsearch.sweeper  # noqa: F401
        import main  # noqa: F401
        import runs.stages  # noqa: F401

        warm_up_composition()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def warm_up_composition() -> None:
    """Compose the project's config once, as every child will: the grammar parsers' caches (ANTLR's,
    for Hydra's overrides and OmegaConf's values) and Hydra's plugin list are then inherited warm,
    0.075 s less CPU for each `main.py` a test runs."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        compose("config", overrides=["model=mlp", "trainer.epochs=1", "+x=${oc.env:HOME}"])


def become_main(request: dict, stdin: int) -> None:
    """In the forked child: turn into `python main.py args`, reading `stdin` (a pipe's end), and exit
    with its status."""
    os.setsid()  # its own process group: a timeout kills it with whatever it started
    os.dup2(stdin, 0)
    os.close(stdin)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        opened = os.open(request[name], os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    main_path, program = request["main"], request.get("code")  # program: `python -c program args`
    if request.get("other_project"):
        forget_project_modules()
    sys.argv = [main_path if program is None else "-c", *request["args"]]
    sys.path[0] = str(Path(main_path).parent) if program is None else ""
    if request.get("warnings_as_errors"):  # `python -W error`; -W options also reach Python processes it starts
        import warnings

        sys.warnoptions[:] = ["error"]
        warnings.resetwarnings()
        warnings.simplefilter("error")
    code = 0
    try:
        if request.get("research_models"):
            from tests.research_models import register

            register()
        if request.get("fault"):
            from tests.faults import install

            install(request["fault"])
        if program is None:
            runpy.run_path(main_path, run_name="__main__")
        else:  # e.g. serving an exported model with TensorFlow alone
            exec(compile(program, "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if not isinstance(exit_.code, (int, type(None))):
            print(exit_.code, file=sys.stderr)
    except BaseException:  # what the interpreter does with an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    import atexit

    atexit._run_exitfuncs()  # as the interpreter does at exit (logging's shutdown, main.py's own handlers)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def forget_project_modules() -> None:
    """Drop the modules imported from this server's project, so that a copy of the project (its
    main.py in the request) imports its own `models`, `data`, `conf`, ... from its folder, new files
    included; TensorFlow and the other libraries stay imported. Registries outside the project keep
    what the server's import put there: Hydra's ConfigStore (the copy's imports store their schemas
    again, over the same names) and Hydra's plugin list (this project's sweeper class)."""
    root, environment = str(PROJECT_ROOT.resolve()) + os.sep, os.path.realpath(sys.prefix) + os.sep  # .venv/
    for name, module in list(sys.modules.items()):
        file = os.path.realpath(getattr(module, "__file__", None) or "/")
        if file.startswith(root) and not file.startswith(environment) and name.split(".")[0] != "tests":
            del sys.modules[name]


def wait(pid: int, timeout: float) -> tuple[int | None, int | None, float]:
    """The child's exit status, peak resident memory in KiB (None, None if it ran past `timeout`) and
    CPU seconds (its own and those of the processes it waited for).

    A forked child starts out resident with the server's pages, so its peak is the server's size plus
    what the command added: compare two commands' peaks, not one peak with a fresh process's.
    The wait blocks (a timer kills the child at the deadline): polling added 10 ms to every command."""
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        for send in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                send()
            except ProcessLookupError:
                pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, usage = os.wait4(pid, 0)
    timer.cancel()
    timer.join()  # no thread of this request is left when the next one forks
    cpu = usage.ru_utime + usage.ru_stime
    if expired.is_set():
        return None, None, cpu
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss, cpu


def feed(pipe: int, data: bytes) -> None:
    """Write `data` into the child's stdin and close it; a child that exits unread ends the write."""
    try:
        with open(pipe, "wb") as handle:
            handle.write(data)
    except BrokenPipeError:
        pass


def serve() -> None:
    preload()
    gc.freeze()  # the imported modules move to a permanent generation: no child's collection walks them
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        read_end, write_end = os.pipe()  # stdin is a pipe, as `subprocess.run(input=...)` gives
        pid = os.fork()
        if pid == 0:
            os.close(write_end)
            become_main(request, read_end)
        os.close(read_end)
        feeding = threading.Thread(target=feed, args=(write_end, Path(request["stdin"]).read_bytes()))
        feeding.start()
        started = time.monotonic()
        returncode, peak_rss_kib, cpu = wait(pid, request["timeout"])
        if os.environ.get("TEST_SERVER_LOG"):  # where the suite's time goes: a JSON line per command
            with open(os.environ["TEST_SERVER_LOG"], "a") as log:
                log.write(json.dumps({"test": request["env"].get("PYTEST_CURRENT_TEST"), "args": request["args"],
                                      "code": bool(request.get("code")), "returncode": returncode,
                                      "wall_s": round(time.monotonic() - started, 3),
                                      "cpu_s": round(cpu, 3)}) + "\n")
        feeding.join(10)  # the child is gone, so the write has ended (unless a grandchild holds the pipe)
        print(json.dumps({"returncode": returncode, "peak_rss_kib": peak_rss_kib}), flush=True)


if __name__ == "__main__":
    serve()
