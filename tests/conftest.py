"""Shared helpers: compose configs in-process, run `main.py` as a subprocess inside tmp_path."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import data.sources  # noqa: F401 -- registers the dataset schemas, as main.py does
import models  # noqa: F401 -- registers the model schemas
from conf.schema import register_configs
from runs.output_dirs import register_resolvers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MAIN = PROJECT_ROOT / "main.py"

register_configs()
register_resolvers()


def compose_config(*overrides: str) -> DictConfig:
    """The config `python main.py <overrides>` would run with, composed in-process (no TensorFlow)."""
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides))


class MainServer:
    """A `tests/main_server.py` process of this test worker: runs `python main.py ...` in forked children."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "tests" / "main_server.py"),
                                         str(PROJECT_ROOT)], cwd=PROJECT_ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def run(self, workdir: Path, args: list[str], timeout: float, env: dict, stdin: str | None = None,
            fault: dict | None = None, code: str | None = None, script: Path = MAIN,
            other_project: bool = False, research_models: bool = False,
            warnings_as_errors: bool = False) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as folder:
            files = {name: str(Path(folder) / name) for name in ("stdin", "stdout", "stderr")}
            Path(files["stdin"]).write_text(stdin or "")
            request = {"main": str(script), "args": list(args), "cwd": str(workdir), "env": env, "timeout": timeout,
                       "fault": fault, "code": code, "other_project": other_project,
                       "research_models": research_models, "warnings_as_errors": warnings_as_errors, **files}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            reply = json.loads(self.process.stdout.readline())
            if reply["returncode"] is None:
                raise subprocess.TimeoutExpired([str(script), *args], timeout)
            result = subprocess.CompletedProcess([str(script), *args], reply["returncode"],
                                                 Path(files["stdout"]).read_text(), Path(files["stderr"]).read_text())
            result.peak_rss_kib = reply["peak_rss_kib"]  # see main_server.wait: compare, do not read alone
            return result


@functools.cache
def server() -> MainServer:
    """This worker's test server, started by the first test that needs it."""
    return MainServer()


def run_main(workdir: Path, *args: str, timeout: float = 240, main: Path = MAIN, stdin: str | None = None,
             fault: dict | None = None, research_models: bool = False,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python main.py args` with workdir as the current folder, and workdir/data, workdir/results as
    `data_dir` and `results_dir` unless args set them: a child forked from this worker's
    `tests/main_server.py`, which imported TensorFlow and the project once. `main` may be another copy's
    main.py: the child then forgets the project's modules and imports that copy's (TensorFlow stays).
    `research_models`: the models of `tests/research_models/` are options of `model=` in that child; `env`
    adds variables to its environment (HYDRA_FULL_ERROR is otherwise unset)."""
    env = {**{key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"},
           "PYTHONUNBUFFERED": "1", **(env or {})}
    given = {arg.split("=", 1)[0] for arg in args}
    # the defaults are the project's own data/ and results/; a test keeps to its folder
    args = (*args, *(f"{key}={workdir / folder}" for key, folder in (("data_dir", "data"), ("results_dir", "results"))
                     if key not in given and not {"--cfg", "--help", "--hydra-help"} & set(args)))
    return server().run(workdir, list(args), timeout, env, stdin, fault, script=main, other_project=main != MAIN,
                        research_models=research_models)


def run_python(workdir: Path, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -c code args` in workdir, forked from the test server: TensorFlow is imported already,
    and nothing else has run in that process (no model built, no project code called)."""
    return server().run(workdir, list(args), timeout, {**os.environ, "PYTHONUNBUFFERED": "1"}, code=code)


def run_script(workdir: Path, script: Path, *args: str, env: dict, timeout: float = 240,
               warnings_as_errors: bool = False) -> subprocess.CompletedProcess:
    """`python script args` (`python -W error script args` with `warnings_as_errors`) in workdir with
    environment `env`, forked from the test server as `run_main` is: for the Hydra apps of the sweeper's
    tests (tests/sweep_app, tests/plugin_apps), which then start with Hydra, Optuna, the sweeper and
    what its plots use imported, seconds less CPU for every sweep."""
    return server().run(workdir, list(args), timeout, env, script=script, warnings_as_errors=warnings_as_errors)


SERVE = ("import json, sys, numpy as np, tensorflow as tf; "
         "serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']; "
         "dtype = lambda k, v: tf.string if v.dtype.kind == 'U' else tf.int32 if k == 'lengths' else tf.float32; "
         "out = serve(**{k: tf.constant(v, dtype(k, v)) for k, v in np.load(sys.argv[2]).items()}); "
         "print(json.dumps({k: v.numpy().tolist() for k, v in out.items()}))")


def serve_exported(workdir: Path, saved_model: str, inputs) -> dict:
    """The outputs of an exported model's `serving_default` signature for `inputs` (a NumPy batch, or a dict
    of them by input name; strings as tf.string, `lengths` as int32, anything else as float32), from a process
    that uses TensorFlow alone, as a deployment would (`run_python`)."""
    import numpy as np

    np.savez(workdir / "serve_input.npz", **(inputs if isinstance(inputs, dict) else {"inputs": inputs}))
    served = run_python(workdir, SERVE, saved_model, str(workdir / "serve_input.npz"))
    assert served.returncode == 0, served.stderr
    return json.loads(served.stdout.strip().splitlines()[-1])


def run_folders(workdir: Path, model: str = "mlp", dataset: str = "digits") -> list[Path]:
    base = workdir / "results" / model / dataset
    return sorted(base.iterdir()) if base.is_dir() else []


def read_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="session")
def digits_data(tmp_path_factory) -> Path:
    """A data folder with digits prepared once for the whole session."""
    from data.prepare import prepare_dataset

    data_dir = tmp_path_factory.mktemp("data")
    prepare_dataset(compose_config().dataset, data_dir)
    return data_dir


def _postgres_binary(name: str) -> str | None:
    import glob
    import shutil

    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this test worker: initdb and pg_ctl into a temporary folder, listening
    on 127.0.0.1 at a free port; its URL, for a database the tests may use. Run as the `postgres` user
    when the tests run as root (initdb refuses root). `.ci/run` installs Debian's postgresql if missing."""
    import pwd
    import shutil
    import socket

    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql; .ci/run does)")
    folder = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    folder.chmod(0o755)
    demote = None
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)

        def demote():
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"

    def run(*command):
        return subprocess.run(command, capture_output=True, text=True, preexec_fn=demote, cwd=folder, timeout=120)

    created = run(initdb, "-D", str(data), "-A", "trust", "-U", "sweeper", "--no-sync")
    assert created.returncode == 0, created.stderr
    started = run(pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o",
                  f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", "start")
    assert started.returncode == 0, started.stderr + (folder / "server.log").read_text()
    try:
        yield f"postgresql://sweeper@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules of few tests first, modules of many last, each kept whole and in order.

    Few tests in a module means long ones (training runs, sweeps); many means short ones (the
    bad-input catalogue). The two test workers take tests in this order, so the short ones fill in
    at the end and both finish together, instead of one idling while the other runs a sweep."""
    sizes: dict[Path, int] = {}
    for item in items:
        sizes[item.path] = sizes.get(item.path, 0) + 1
    items.sort(key=lambda item: sizes[item.path])  # stable: a module's tests keep their order


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a grouped test whose `xdist_group` `--dist loadgroup` did not keep on one worker.

    pytest-xdist marks a grouped test by appending `@<group>` to its node id, which pytest 9.2 no
    longer lets it change (pytest-xdist#1386): the groups then spread silently, and a module's shared
    run is trained on both workers. requirements.txt pins a pytest where the grouping holds."""
    if getattr(item.config.option, "loadgroup", False) and item.get_closest_marker("xdist_group") and \
            "@" not in item.nodeid.rsplit("]", 1)[-1]:
        pytest.fail("pytest-xdist did not keep this test's xdist_group on one worker (pytest-xdist#1386, "
                    "pytest >= 9.2): install the pytest that requirements.txt pins", pytrace=False)
