"""Trials as jobs of a real Slurm cluster: `hydra/launcher=slurm` against a one-node cluster the test starts.

The fixture writes a `slurm.conf` into the test's folder and starts Debian's `munged`, `slurmctld` and `slurmd`
on 127.0.0.1 at free ports (`.ci/run` installs `slurm-wlm` and `munge` when missing); every command finds the
cluster through `SLURM_CONF`. The study is a real PostgreSQL database (tests/conftest.py), as on a cluster.
The cluster has no accounting database (`slurmdbd` needs a MySQL server), so `sacct` is off: Slurm's job
completion log (`jobcomp/filetxt`) is where the test reads which jobs ran, and how they ended.
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
DAEMONS = ("munged", "slurmctld", "slurmd")


def daemon(name: str) -> str | None:
    return shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name,) if p.exists()), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm cluster on this machine; yields the environment that reaches it."""
    missing = [name for name in (*DAEMONS, "mungekey", "sbatch", "squeue") if daemon(name) is None]
    if missing:
        pytest.skip(f"no Slurm here ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    base = tmp_path_factory.mktemp("slurm")
    munge = base / "munge"
    munge.mkdir(mode=0o700)
    subprocess.run([daemon("mungekey"), "-c", "-k", str(munge / "munge.key")], check=True, capture_output=True)
    subprocess.run([daemon("munged"), "--force", f"--key-file={munge / 'munge.key'}",
                    f"--socket={munge / 'socket'}", f"--pid-file={munge / 'pid'}", f"--log-file={munge / 'log'}",
                    f"--seed-file={munge / 'seed'}"], check=True, capture_output=True)
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
        "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={base / 'jobcomp.log'}", "MpiDefault=none", "ReturnToService=2", "KillWait=1",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory} State=UNKNOWN",
        f"PartitionName=tests Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4", ""]))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    env.pop("HYDRA_FULL_ERROR", None)
    started = [subprocess.Popen([daemon(name), "-D", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True) for name in ("slurmctld", "slurmd")]
    deadline = time.monotonic() + 30
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
    yield {"env": env, "jobcomp": base / "jobcomp.log"}
    subprocess.run(["scancel", "--full", "--user", user], env=env, capture_output=True)
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # slurmd may wait on its job steps: the test's cluster ends now
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    subprocess.run([daemon("munged"), f"--socket={munge / 'socket'}", "--stop"], capture_output=True)


def completed_jobs(jobcomp: Path) -> dict[str, str]:
    """Slurm's completion log: each job as submitit names its folder (`<job>`, or `<array job>_<task>` for a
    job of an array) -> its final state."""
    if not jobcomp.is_file():
        return {}
    jobs = {}
    for line in jobcomp.read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        task = fields.get("ArrayTaskId", "")
        name = f"{fields['ArrayJobId']}_{task}" if task.isdigit() and task != "4294967294" else fields.get("JobId", "")
        jobs[name] = fields.get("JobState", "")
    return jobs


def sweep_command(tmp_path: Path, storage: str, *args: str) -> list[str]:
    return [sys.executable, str(MAIN), "-m", "hpsearch=mlp", "hydra/launcher=slurm", "hydra.sweeper.n_jobs=2",
            "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1",
            "hydra.launcher.timeout_min=10", "hydra.launcher.partition=tests", f"hydra.sweeper.storage={storage}",
            "hydra.sweeper.plots=false", "trainer.batch_size=128", f"data_dir={tmp_path / 'data'}",
            f"results_dir={tmp_path / 'results'}", *args]


def trial_rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "trials.csv") as handle:
        return list(csv.DictReader(handle))


def test_each_trial_is_a_slurm_job_and_a_killed_sweep_continues(slurm, postgres_url, tmp_path, digits_data):
    """Trials run as jobs of the cluster, with the study in PostgreSQL; the sweep process is killed while its
    jobs run, started again with the same command, and ends with exactly n_trials usable trials."""
    shutil.copytree(digits_data, tmp_path / "data")
    command = sweep_command(tmp_path, postgres_url, "hydra.sweeper.n_trials=2", "trainer.epochs=5",
                            "hydra.sweeper.study_name=slurm_sweep")
    sweep_dir = tmp_path / "results" / "sweeps" / "slurm_sweep"
    first = subprocess.Popen(command, cwd=tmp_path, env=slurm["env"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120  # killed once its first two jobs are running
    while time.monotonic() < deadline and len(list((sweep_dir / ".submitit").glob("*/*_log.err"))) < 2:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert len(list((sweep_dir / ".submitit").glob("*"))) >= 2, first.stderr.read()[-3000:]
    again = subprocess.run(command, cwd=tmp_path, env=slurm["env"], capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = trial_rows(sweep_dir)
    usable = [r for r in rows if r["state"] in ("COMPLETE", "PRUNED")]
    abandoned = [r for r in rows if r["error"].startswith("abandoned")]
    assert len(usable) == 2 and len(abandoned) == 2  # the killed sweep's two trials, run again
    # every trial ran as a Slurm job: its submitit folder is named after the job, which Slurm completed
    ran = {log.parent.name for log in (sweep_dir / ".submitit").glob("*/*_log.err")}
    deadline = time.monotonic() + 30  # Slurm logs a job's end just after the job's result reached the sweep
    while time.monotonic() < deadline and not ran <= set(completed_jobs(slurm["jobcomp"])):
        time.sleep(0.5)
    jobs = completed_jobs(slurm["jobcomp"])
    assert ran <= set(jobs) and len(ran) == 4, (ran, jobs)  # the killed sweep's jobs ran on, to their end
    assert all(jobs[job] == "COMPLETED" for job in ran)
    for row in usable:
        assert (Path(row["folder"]) / "metrics.json").is_file()
