"""The baseline of benchmarks/overhead.py: the same MLP trained by a plain Keras script, no framework.

    python benchmarks/plain_keras_mlp.py <prepared dataset folder> <epochs> <batch size> <hidden units,...>

Prints one JSON line with the time spent in `model.fit` and the test accuracy. The splits are read
into NumPy arrays from the prepared shards with `data.shards` alone (what `data.prepare.load_split`
does, without importing Hydra and OmegaConf, which would add ~0.3 s to the baseline's start-up).
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from data.shards import RecordLayout, read_split  # noqa: E402 -- numpy only


def load_split(folder: Path, split: str):
    manifest = json.loads((folder / "manifest.json").read_text())
    return read_split(folder, manifest["splits"][split], RecordLayout.from_dict(manifest["record"]))


def main() -> None:
    folder, epochs, batch_size, hidden = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    split = {name: load_split(folder, name) for name in ("train", "val", "test")}
    keras.utils.set_random_seed(0)
    inputs = keras.Input(split["train"][0].shape[1:])
    x = keras.layers.Flatten()(inputs)
    for units in map(int, hidden.split(",")):
        x = keras.layers.Dense(units, activation="relu")(x)
        x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(10)(x))
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(*split["train"], batch_size=batch_size, epochs=epochs, validation_data=split["val"], verbose=0)
    fit_time = time.perf_counter() - started
    test_accuracy = model.evaluate(*split["test"], batch_size=batch_size, verbose=0, return_dict=True)["accuracy"]
    print(json.dumps({"fit_time_s": fit_time, "test_accuracy": test_accuracy}))


if __name__ == "__main__":
    main()
