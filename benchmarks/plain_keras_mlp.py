"""The baseline of benchmarks/overhead.py: the same MLP trained by a plain Keras script, no framework.

    python benchmarks/plain_keras_mlp.py <prepared dataset folder> <epochs> <batch size> <hidden units,...>

Prints one JSON line with the time spent in `model.fit` and the test accuracy.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np


def main() -> None:
    folder, epochs, batch_size, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    split = {name: (np.load(f"{folder}/{name}/x.npy"), np.load(f"{folder}/{name}/y.npy"))
             for name in ("train", "val", "test")}
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
