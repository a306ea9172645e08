"""The baseline of benchmarks/reference_models.py: ResNet-20 on digits by a plain Keras script.

    python benchmarks/plain_keras_resnet.py <prepared digits folder> <epochs> <batch size>

The network is the one `models/resnet.py` builds (its function is called with the default
hyper-parameters, nothing else of the project runs); inputs scaled by 16 as `dataset.scale` does,
Adam 1e-3, `model.fit` on NumPy arrays. Prints the test accuracy after the last epoch as JSON.
"""

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from data.shards import RecordLayout, read_split  # noqa: E402 -- numpy only
from models.resnet import ResNet  # noqa: E402 -- only its build_network


def load_split(folder: Path, split: str):
    manifest = json.loads((folder / "manifest.json").read_text())
    x, y = read_split(folder, manifest["splits"][split], RecordLayout.from_dict(manifest["record"]))
    return x.reshape(len(x), 8, 8, 1).astype("float32") / 16.0, y


def main() -> None:
    folder, epochs, batch_size = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    split = {name: load_split(folder, name) for name in ("train", "val", "test")}
    keras.utils.set_random_seed(42)
    hparams = SimpleNamespace(depth=20, width=16, shortcut="zero_pad", preactivation=False)
    model = ResNet.build_network(SimpleNamespace(hparams=hparams, require_image_input=lambda shape: None),
                                 (8, 8, 1), 10)
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(*split["train"], batch_size=batch_size, epochs=epochs, validation_data=split["val"], verbose=0)
    accuracy = model.evaluate(*split["test"], batch_size=batch_size, verbose=0, return_dict=True)["accuracy"]
    print(json.dumps({"test_accuracy": accuracy}))


if __name__ == "__main__":
    main()
