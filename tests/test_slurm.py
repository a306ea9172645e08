"""Trials as jobs of a real Slurm cluster: `hydra/launcher=slurm` against a one-node cluster the test starts.

The fixture writes a `slurm.conf` into the test's folder and starts Debian's `munged`, a MariaDB server and
`slurmdbd` for the accounting (`sacct`, which submitit polls to see a job end), `slurmctld` and `slurmd`, all on
127.0.0.1 at free ports (`.ci/run` installs `slurm-wlm`, `slurmdbd`, `munge` and `mariadb-server` when missing);
every command finds the cluster through `SLURM_CONF`. The study is a real PostgreSQL database
(tests/conftest.py), as on a cluster.
"""

from __future__ import annotations

import csv
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MAIN

pytestmark = pytest.mark.xdist_group("slurm")  # one cluster, on one worker
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmdbd", "mariadbd", "mariadb-install-db", "sacctmgr")


def daemon(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name,) if p.exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm cluster on this machine; yields the environment that reaches it."""
    missing = [name for name in (*DAEMONS, "mungekey", "sbatch", "squeue", "sacct") if daemon(name) is None]
    if missing:
        pytest.skip(f"no Slurm here ({', '.join(missing)} missing): apt-get install slurm-wlm slurmdbd munge "
                    "mariadb-server")
    base = tmp_path_factory.mktemp("slurm")
    munge = base / "munge"
    munge.mkdir(mode=0o700)
    subprocess.run([daemon("mungekey"), "-c", "-k", str(munge / "munge.key")], check=True, capture_output=True)
    subprocess.run([daemon("munged"), "--force", f"--key-file={munge / 'munge.key'}",
                    f"--socket={munge / 'socket'}", f"--pid-file={munge / 'pid'}", f"--log-file={munge / 'log'}",
                    f"--seed-file={munge / 'seed'}"], check=True, capture_output=True)
    database = base / "mariadb"  # slurmdbd's accounting database, a server of the test's own
    subprocess.run([daemon("mariadb-install-db"), f"--user={getpass.getuser()}", f"--datadir={database}",
                    "--auth-root-authentication-method=normal", "--skip-test-db"], check=True, capture_output=True)
    database_port, dbd_port = free_port(), free_port()
    mariadb = subprocess.Popen([daemon("mariadbd"), f"--user={getpass.getuser()}", f"--datadir={database}",
                                f"--socket={base / 'mariadb.sock'}", f"--port={database_port}",
                                "--bind-address=127.0.0.1", "--skip-grant-tables", "--skip-name-resolve",
                                f"--pid-file={base / 'mariadb.pid'}", f"--log-error={base / 'mariadb.log'}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    host, user = socket.gethostname().split(".")[0], getpass.getuser()
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 2
    for folder in ("state", "spool", "log"):
        (base / folder).mkdir()
    conf = base / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=tests", f"SlurmctldHost={host}(127.0.0.1)", f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}", "AuthType=auth/munge", f"AuthInfo=socket={munge / 'socket'}",
        "CredType=cred/munge", f"SlurmUser={user}", f"SlurmdUser={user}", f"StateSaveLocation={base / 'state'}",
        f"SlurmdSpoolDir={base / 'spool'}", f"SlurmctldPidFile={base / 'slurmctld.pid'}",
        f"SlurmdPidFile={base / 'slurmd.pid'}", f"SlurmctldLogFile={base / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={base / 'log' / 'slurmd.log'}", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/slurmdbd", "AccountingStorageHost=127.0.0.1",
        f"AccountingStoragePort={dbd_port}", f"AccountingStoragePass={munge / 'socket'}",  # its munge socket
        "MpiDefault=none", "ReturnToService=2", "KillWait=1",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory} State=UNKNOWN",
        f"PartitionName=tests Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4", ""]))
    (base / "slurmdbd.conf").write_text("\n".join([  # beside slurm.conf, where slurmdbd looks for it
        "AuthType=auth/munge", f"AuthInfo=socket={munge / 'socket'}", "DbdHost=localhost", "DbdAddr=127.0.0.1",
        f"DbdPort={dbd_port}", f"SlurmUser={user}", f"LogFile={base / 'log' / 'slurmdbd.log'}",
        f"PidFile={base / 'slurmdbd.pid'}", "StorageType=accounting_storage/mysql", "StorageHost=127.0.0.1",
        f"StoragePort={database_port}", f"StorageUser={user}", "StorageLoc=slurm_accounting", ""]))
    (base / "slurmdbd.conf").chmod(0o600)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env.pop("HYDRA_FULL_ERROR", None)
    started = [mariadb]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (base / "mariadb.sock").exists():
        time.sleep(0.2)
    started.append(subprocess.Popen([daemon("slurmdbd"), "-D"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True))
    while time.monotonic() < deadline and subprocess.run(
            [daemon("sacctmgr"), "-i", "add", "cluster", "tests"], env=env, capture_output=True).returncode != 0:
        time.sleep(0.5)  # until slurmdbd answers (the cluster is then known to the accounting)
    started += [subprocess.Popen([daemon(name), "-D", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True) for name in ("slurmctld", "slurmd")]
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.strip()
        if state == "idle":
            break
        time.sleep(0.3)
    else:
        for process in started:
            process.kill()
        log = (base / "log" / "slurmctld.log").read_text()[-2000:] if (base / "log" / "slurmctld.log").exists() else ""
        pytest.fail(f"the test's Slurm cluster did not come up: {log}")
    yield env
    subprocess.run(["scancel", "--full", "--user", user], env=env, capture_output=True)
    deadline = time.monotonic() + 15  # the daemons stop once their jobs have (no job step outlives the test)
    while time.monotonic() < deadline and subprocess.run(["squeue", "-h"], env=env, capture_output=True,
                                                         text=True).stdout.strip():
        time.sleep(0.3)
    for process in reversed(started):
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # slurmd may wait on its job steps: the test's cluster ends now
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    subprocess.run([daemon("munged"), f"--socket={munge / 'socket'}", "--stop"], capture_output=True)


def accounted_jobs(env: dict) -> dict[str, str]:
    """`sacct`'s jobs of the cluster: each as submitit names its folder (`<job>`, `<array job>_<task>`) -> its
    final state (`CANCELLED by 0` as `CANCELLED`)."""
    listed = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-S", "2000-01-01"], env=env,
                            capture_output=True, text=True, check=True).stdout
    return {line.split("|")[0]: line.split("|")[1].split()[0] for line in listed.splitlines() if "|" in line}


def sweep_command(tmp_path: Path, storage: str, *args: str) -> list[str]:
    return [sys.executable, str(MAIN), "-m", "hpsearch=mlp", "hydra/launcher=slurm", "hydra.sweeper.n_jobs=2",
            "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=10", "hydra.launcher.partition=tests", f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.plots=false", "trainer.batch_size=128", f"data_dir={tmp_path / 'data'}",
            f"results_dir={tmp_path / 'results'}", *args]


def trial_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def queued_jobs(env: dict, *states: str) -> list[str]:
    """The cluster's jobs in squeue (in `states` only, if given)."""
    filters = ["-t", ",".join(states)] if states else []
    listed = subprocess.run(["squeue", "-h", *filters, "-o", "%i"], env=env, capture_output=True, text=True).stdout
    return listed.split()


def test_each_trial_is_a_slurm_job_cancelled_and_killed_sweeps_lose_none(slurm, postgres_url, tmp_path, digits_data):
    """Trials run as jobs of the cluster, with the study in PostgreSQL. The sweep process is killed while its
    first two jobs run and started again with the same command; then one of its jobs is cancelled with
    `scancel`: that trial is recorded abandoned and run again. The sweep ends with exactly n_trials usable
    trials, and `sacct` shows every job."""
    shutil.copytree(digits_data, tmp_path / "data")
    command = sweep_command(tmp_path, postgres_url, "hydra.sweeper.n_trials=2", "trainer.epochs=20",
                            "hydra.sweeper.study_name=slurm_sweep")
    sweep_dir = tmp_path / "results" / "sweeps" / "slurm_sweep"
    first = subprocess.Popen(command, cwd=tmp_path, env=slurm, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120  # killed once its first two jobs are running
    while time.monotonic() < deadline and len(list((sweep_dir / ".submitit").glob("*/*_log.err"))) < 2:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_jobs = set(queued_jobs(slurm))  # whatever their state: they are not the new sweep's
    assert len(list((sweep_dir / ".submitit").glob("*"))) >= 2, first.stderr.read()[-3000:]
    again = subprocess.Popen(command, cwd=tmp_path, env=slurm, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    deadline = time.monotonic() + 120  # one job of the new sweep is cancelled as soon as it runs
    while time.monotonic() < deadline and not set(queued_jobs(slurm, "R")) - killed_jobs:
        time.sleep(0.2)
    cancelled = sorted(set(queued_jobs(slurm, "R")) - killed_jobs)[0]
    subprocess.run(["scancel", cancelled], env=slurm, check=True)
    output = again.communicate(timeout=400)[0]
    assert again.returncode == 0, output[-3000:]
    rows = trial_rows(sweep_dir)
    usable = [r for r in rows if r["state"] in ("COMPLETE", "PRUNED")]
    abandoned = [r for r in rows if r["error"].startswith("abandoned")]
    assert len(usable) == 2 and len(abandoned) == 3  # the killed sweep's two trials and the cancelled one
    assert f"its job ended without a result: Job {cancelled.split('_')[0]}" in output
    ran = {log.parent.name for log in (sweep_dir / ".submitit").glob("*/*_log.err")}
    deadline = time.monotonic() + 30  # accounting records a job's end just after its result reached the sweep
    while time.monotonic() < deadline and not all(accounted_jobs(slurm).get(job) in ("COMPLETED", "CANCELLED")
                                                  for job in ran):
        time.sleep(0.5)
    jobs = accounted_jobs(slurm)
    assert ran <= set(jobs) and len(ran) == 5, (ran, jobs)  # the killed sweep's jobs ran on, to their end
    assert jobs[cancelled] == "CANCELLED" and sum(jobs[job] == "COMPLETED" for job in ran) == 4, jobs
    for row in usable:
        assert (Path(row["folder"]) / "metrics.json").is_file()
