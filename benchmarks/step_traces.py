"""What tracing the training step once instead of twice saves: one training run of a model, with and
without `build_compiled_state` (models/base_model.py), side by side.

    python benchmarks/step_traces.py [--model resnet] [--epochs 1] [--repeats 3] [--data-dir DIR]

Each repeat runs, alternating, A: the run as Keras alone would trace it (`build_compiled_state` replaced
by a function that does nothing, so Keras creates the compiled metrics inside the first trace and
`tf.function` traces the step again) and B: the run as the project does it. Each is a fresh process
that imports `main.py` first, then times `main()` only (CPU of the process, wall), so TensorFlow's
import is left out, and counts how often `train_step` was traced. Prints the medians (benchmarks/ab.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ab import report

ROOT = Path(__file__).resolve().parents[1]

ONE_RUN = """
import json, os, sys, time
sys.path.insert(0, {root!r})
os.chdir({root!r})
import keras.src.backend.tensorflow.trainer as trainer
import main as app
import models.base_model

traces = []
step = trainer.TensorFlowTrainer.train_step
def counted(self, data):
    traces.append(1)
    return step(self, data)
trainer.TensorFlowTrainer.train_step = counted
if {keras_alone!r}:
    models.base_model.build_compiled_state = lambda network, element_spec: None
sys.argv = ["main.py", *{arguments!r}]
cpu, wall = time.process_time(), time.perf_counter()
try:
    app.main()
except SystemExit as error:
    if error.code:
        raise
print(json.dumps({{"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "traces": len(traces)}}))
"""


def one_run(keras_alone: bool, arguments: list[str]) -> dict:
    code = ONE_RUN.format(root=str(ROOT), keras_alone=keras_alone, arguments=arguments)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None, help="prepared datasets (default: the project's data/)")
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"A step traced as Keras alone does": [], "B step traced once": []}
    traced: dict[str, set[int]] = {name: set() for name in times}
    with tempfile.TemporaryDirectory() as folder:
        arguments = [f"model={args.model}", f"trainer.epochs={args.epochs}", f"results_dir={folder}",
                     *([f"data_dir={args.data_dir}"] if args.data_dir else [])]
        for _ in range(args.repeats):
            for name in times:
                result = one_run(name.startswith("A"), arguments)
                times[name].append((result["cpu"], result["wall"]))
                traced[name].add(result["traces"])
    for name, counts in traced.items():
        print(f"{name}: train_step traced {sorted(counts)} time(s)")
    report(times, args.repeats, "saved by tracing once")


if __name__ == "__main__":
    main()
