"""Where each dataset's raw arrays come from: one entry per dataset name.

A source returns either all examples as `(x, y)`, which `data.prepare` splits into train, val
and test, or its official `{"train": (x, y), "test": (x, y)}` split, from whose train part the
validation split is drawn. x has any numeric dtype and the shape the data comes in; y holds
integer labels. `digits` and `synthetic` need no network; the others download their raw files
(see `data.download`) into `<data_dir>/downloads/` first.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import DictConfig

from conf.errors import UserError
from conf.schema import DatasetConfig, register_dataset_name, register_schema, require
from data.download import RemoteFile

Arrays = tuple[np.ndarray, np.ndarray]


@dataclass
class SyntheticDatasetConfig(DatasetConfig):
    """Gaussian clusters around one random prototype per class, generated from `seed`."""

    num_samples: int = 2000
    noise: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.num_samples >= 10 * self.num_classes, "dataset.num_samples", self.num_samples,
                f"must be >= 10 x dataset.num_classes ({10 * self.num_classes})")
        require(self.noise >= 0, "dataset.noise", self.noise, "must be >= 0")


@dataclass(frozen=True)
class Source:
    """A dataset: how its arrays are loaded, the raw files it needs, its class names, and the schema
    of its config keys (`DatasetConfig` or a subclass with keys of its own)."""

    load: Callable[[DictConfig, dict[str, Path]], Arrays | dict[str, Arrays]]
    files: tuple[RemoteFile, ...] = ()
    class_names: tuple[str, ...] = field(default_factory=tuple)
    schema: type[DatasetConfig] = DatasetConfig


def load_digits(cfg: DictConfig, files: dict[str, Path]) -> Arrays:
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, values 0-16, 10 classes."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return digits.images.astype("uint8"), digits.target.astype("int64")


def make_synthetic(cfg: DictConfig, files: dict[str, Path]) -> Arrays:
    """Gaussian clusters: one random prototype per class, examples are prototype + noise * N(0, 1).

    Any size and shape, the same arrays for the same parameters: for tests and benchmarks.
    """
    rng = np.random.default_rng(cfg.seed)
    features = int(np.prod(cfg.input_shape))
    prototypes = rng.normal(size=(cfg.num_classes, features))
    y = rng.permutation(np.arange(cfg.num_samples) % cfg.num_classes)
    x = prototypes[y] + cfg.noise * rng.normal(size=(cfg.num_samples, features))
    return x.astype("float32"), y.astype("int64")


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (MNIST's format): magic 0x0000 0x08 <dims>, big-endian sizes, then uint8 data."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise UserError(f"{path} holds {body.size} values, not the {shape} its header announces")
    return body.reshape(shape)


def load_idx_pair(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Arrays]:
    """MNIST and Fashion-MNIST: 28x28 grey images in IDX files, official train and test sets."""
    return {split: (read_idx(files[f"{prefix}-images-idx3-ubyte.gz"]),
                    read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype("int64"))
            for split, prefix in (("train", "train"), ("test", "t10k"))}


def load_cifar10(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Arrays]:
    """CIFAR-10's Python version: pickled batches of 10,000 32x32 colour images in a tar.gz."""
    def batch(archive: tarfile.TarFile, name: str) -> Arrays:
        member = archive.extractfile(f"cifar-10-batches-py/{name}")
        if member is None:
            raise UserError(f"{files['cifar-10-python.tar.gz']} lacks cifar-10-batches-py/{name}")
        content = pickle.load(member, encoding="bytes")  # the file's checksum was verified first
        images = np.asarray(content[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(content[b"labels"], dtype="int64")

    with tarfile.open(files["cifar-10-python.tar.gz"], "r:gz") as archive:
        train = [batch(archive, f"data_batch_{i}") for i in range(1, 6)]
        test = batch(archive, "test_batch")
    return {"train": (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), "test": test}


def _idx_files(bases: tuple[str, ...], checksums: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, tuple(base + name for base in bases), sha256) for name, sha256 in checksums.items())


MNIST_FILES = _idx_files(
    ("https://yann.lecun.com/exdb/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
     "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    {"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
     "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
     "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
     "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"})
FASHION_MNIST_FILES = _idx_files(
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
    {"train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
     "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
     "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
     "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"})
CIFAR10_FILES = (RemoteFile(
    "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),)

SOURCES: dict[str, Source] = {
    "digits": Source(load_digits, class_names=tuple(str(i) for i in range(10))),
    "synthetic": Source(make_synthetic, schema=SyntheticDatasetConfig),
    "mnist": Source(load_idx_pair, MNIST_FILES, tuple(str(i) for i in range(10))),
    "fashion_mnist": Source(load_idx_pair, FASHION_MNIST_FILES, (
        "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")),
    "cifar10": Source(load_cifar10, CIFAR10_FILES, (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
}

def dataset_schema(name: str) -> type[DatasetConfig]:
    """The schema of dataset `name`'s config keys; UserError for a dataset no source provides."""
    if name not in SOURCES:
        raise UserError(f"dataset.name={name!r} is not a known dataset; known: {', '.join(SOURCES)}")
    return SOURCES[name].schema


register_schema("dataset", "dataset", DatasetConfig)  # the schema of datasets with no keys of their own
for _name, _source in SOURCES.items():
    register_dataset_name(_name)
    register_schema("dataset", _name, _source.schema)
