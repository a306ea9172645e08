"""A network's `.keras` archive from a copy of its values, so that an epoch's checkpoint can be written
while the next epoch trains.

`model.save` walks every attribute of the model to find its layers, optimizer and their variables, then
writes them: 0.30-0.43 s a save for ResNet-20 on a CPU (217 variables; BENCHMARKS.md), of which copying
the values is 0.025 s. The walk finds the same saveables at every epoch, so `ArchiveLayout` runs Keras's
own walk once, with a store that records where each saveable's values go (`<path>/vars/<key>` of
`model.weights.h5`), and each epoch only copies the values (`snapshot`, on the training thread while
training is paused) and writes them in that layout (`write`, on any thread: it touches no live object).
The file is the one `model.save` writes: metadata.json, config.json (the model's architecture and compile
configuration, taken once: the optimizer's learning rate there is the one it started with, Keras restores
the epoch's rate from the weights file), and model.weights.h5 written by Keras's own `H5IOStore`.

A network that Keras cannot describe (`get_config` refuses: the Keras guide's VAE) gets the archive
`runs.atomic_files` writes for it, weights and optimizer state alone; one with assets (a `StringLookup`'s
vocabulary file) gets no layout, and its caller saves it with `model.save`.
"""

from __future__ import annotations

import datetime
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from keras.src.saving import saving_lib

from runs.atomic_files import weights_only_metadata

WEIGHTS_FILE = "model.weights.h5"


class _Recorder(saving_lib.H5IOStore):
    """The weights store Keras's walk is handed once: it keeps, per entry, the saveable and the keys and values
    it stores (no file is opened)."""

    def __init__(self) -> None:  # noqa: D107 -- H5IOStore's own would open an HDF5 file
        self.entries: list[dict] = []
        self.current: dict | None = None

    def __bool__(self) -> bool:
        return True

    def make(self, path: str, metadata: dict | None = None):
        import sys

        # Keras's `_save_state` calls `saveable.save_own_variables(store.make(path))`: its frame names the saveable
        saveable = sys._getframe(1).f_locals.get("saveable")
        self.current = {"path": path, "metadata": metadata, "values": [], "saveable": saveable}
        self.entries.append(self.current)
        return self

    def __setitem__(self, key: str, value: Any) -> None:
        self.current["values"].append((key, value))


class _AssetsSeen(saving_lib.DiskIOStore):
    """The assets store of the walk: a saveable that writes assets makes the layout unusable."""

    def __init__(self, folder: str) -> None:  # noqa: D107
        self.folder, self.used = folder, False

    def make(self, path: str) -> str:
        self.used = True
        return self.folder


def _is_variable(value: Any) -> bool:
    import keras
    import tensorflow as tf

    return isinstance(value, (keras.Variable, tf.Variable))


class ArchiveLayout:
    """Where each of a network's values goes in its `.keras` archive, and how to read it again.

    Each entry reads its values one of two ways: the variables the saveable stored itself (a layer's
    `save_own_variables` stores its variables; an optimizer stores copies of `optimizer.variables`, in
    order, unless its class saves otherwise), or, for any other saveable, its `save_own_variables` run
    again at each snapshot.
    """

    def __init__(self, network: Any) -> None:
        import tempfile
        import warnings

        from keras.src.optimizers.base_optimizer import BaseOptimizer

        recorder = _Recorder()
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as `runs.atomic_files.save_keras`: Keras's saving warns of unbuilt layers
            assets = _AssetsSeen(folder)
            saving_lib._save_state(network, weights_store=recorder, assets_store=assets, inner_path="",
                                   visited_saveables=set())
            self.config_json = _architecture(network)
        self.usable = not assets.used
        self.variable_count = len(network.variables)
        self.optimizers = []  # (optimizer, its number of variables)
        self.entries = []
        for entry in recorder.entries:
            saveable = entry["saveable"]
            keys = [key for key, _ in entry["values"]]
            if all(_is_variable(value) for _, value in entry["values"]):
                reader = [value for _, value in entry["values"]]
            elif (isinstance(saveable, BaseOptimizer)
                  and type(saveable).save_own_variables is BaseOptimizer.save_own_variables):
                reader = list(saveable.variables)
                self.optimizers.append((saveable, len(reader)))
            else:
                reader = saveable
            if reader is None:  # not found where Keras's walk is expected to hold it: save with `model.save`
                self.usable = False
            self.entries.append({"path": entry["path"], "metadata": entry["metadata"], "keys": keys, "read": reader})

    def outdated(self, network: Any) -> bool:
        """Whether the network gained variables since (an optimizer, a layer built after the first epoch)."""
        return (len(network.variables) != self.variable_count
                or any(len(optimizer.variables) != count for optimizer, count in self.optimizers))

    def snapshot(self) -> list[list[np.ndarray]]:
        """The values of every entry now, as NumPy copies (call it while the network is not training)."""
        values = []
        for entry in self.entries:
            if isinstance(entry["read"], list):
                values.append([np.array(variable.numpy(), copy=True) for variable in entry["read"]])
            else:
                store = _Recorder()
                store.make(entry["path"], entry["metadata"])
                entry["read"].save_own_variables(store)
                values.append([np.array(_numpy(value), copy=True) for _, value in store.current["values"]])
        return values

    @property
    def restorable(self) -> bool:
        """Whether `restore` can put a snapshot back: every entry is plain variables."""
        return all(isinstance(entry["read"], list) for entry in self.entries)

    def restore(self, values: list[list[np.ndarray]]) -> None:
        """Assign a snapshot's values back to the variables it was taken from: the state the checkpoint
        file of that moment holds, without reading the file (only where `restorable`)."""
        for entry, entry_values in zip(self.entries, values, strict=True):
            for variable, value in zip(entry["read"], entry_values, strict=True):
                variable.assign(value)

    def write(self, path: Path, values: list[list[np.ndarray]]) -> None:
        """Write the `.keras` archive of a snapshot to `path` (a file Keras's `load_model` and `load_weights` read)."""
        import keras

        if self.config_json is None:
            metadata = weights_only_metadata()
        else:
            metadata = {"keras_version": keras.__version__,
                        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(saving_lib._METADATA_FILENAME, json.dumps(metadata))
            if self.config_json is not None:
                archive.writestr(saving_lib._CONFIG_FILENAME, self.config_json)
            store = saving_lib.H5IOStore(WEIGHTS_FILE, archive=archive, mode="w")
            try:
                for entry, arrays in zip(self.entries, values):
                    store.make(entry["path"], metadata=entry["metadata"])
                    for key, array in zip(entry["keys"], arrays):
                        store[key] = array
            finally:
                store.close()


def _numpy(value: Any) -> np.ndarray:
    from keras.src import backend

    return backend.convert_to_numpy(value)


def _architecture(network: Any) -> str | None:
    """config.json of the archive, or None where Keras cannot describe the network (weights only; the same
    test as `runs.atomic_files.save_keras`)."""
    if not getattr(network, "_architecture_serializable", True):
        return None
    try:
        config_json, _ = saving_lib._serialize_model_as_json(network)
    except NotImplementedError:  # get_config: "created by passing non-serializable argument values"
        network._architecture_serializable = False
        return None
    return config_json

