"""Where each dataset's examples come from: one entry per dataset name.

A source's `load(cfg, files)` returns its parts: `{"all": reader}`, which `data.prepare` splits
into train, val and test, or its official `{"train": reader, "test": reader}`, from whose train
part the validation split is drawn. A reader is called to stream the part as chunks `(x, y)` in a
fixed order, as often as needed: `reader(labels_only=True)` may yield `(None, y)` and skip the
features, so preparation can plan the split from the labels alone and then write the examples
without ever holding them all. x has any numeric dtype and the shape the data comes in; y holds
integer labels. `digits` and `synthetic` need no network; the others download their raw files
(see `data.download`) into `<data_dir>/downloads/<name>/` first.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from omegaconf import DictConfig

from conf.errors import UserError
from conf.schema import DATASET_COMPLETERS, DatasetConfig, register_dataset_name, register_schema, require
from data.download import RemoteFile

Arrays = tuple[np.ndarray, np.ndarray]
Chunks = Iterator[tuple["np.ndarray | None", np.ndarray]]
Reader = Callable[..., Chunks]  # reader(labels_only=False) -> chunks (x, y), always in the same order
CHUNK_EXAMPLES = 8192  # examples a generated or streamed chunk holds


def from_arrays(x: np.ndarray | dict[str, np.ndarray], y: np.ndarray | dict[str, np.ndarray]) -> Reader:
    """A reader over arrays already in memory (small datasets); x and y may be dicts of named features and
    targets (`dataset.features`, `dataset.targets`)."""
    from data.shards import count_of, take

    def read(labels_only: bool = False) -> Chunks:
        for start in range(0, count_of(y), CHUNK_EXAMPLES):
            chunk = slice(start, start + CHUNK_EXAMPLES)
            yield (None if labels_only else take(x, chunk)), take(y, chunk)
    return read


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


@dataclass
class ImageFolderConfig(DatasetConfig):
    """A folder of images, one sub-folder per class (Keras' `image_dataset_from_directory` layout):
    `<path>/<class>/*.png`, or `<path>/{train,val,test}/<class>/*.png` when the splits are given."""

    path: str = "???"
    name: str = "image_folder"

    def __post_init__(self) -> None:
        super().__post_init__()
        require(len(self.input_shape) == 3 and self.input_shape[-1] in (1, 3, 4), "dataset.input_shape",
                self.input_shape, "[height, width, channels] with 1, 3 or 4 channels: images are resized to it")


@dataclass(frozen=True)
class Source:
    """A dataset: how its arrays are loaded, the raw files it needs, its class names, and the schema
    of its config keys (`DatasetConfig` or a subclass with keys of its own)."""

    load: Callable[[DictConfig, dict[str, Path]], dict[str, Reader]]
    files: tuple[RemoteFile, ...] = ()
    class_names: tuple[str, ...] = field(default_factory=tuple)
    schema: type[DatasetConfig] = DatasetConfig
    # a dataset whose content depends on its config (generated, or a folder given by path) gets a
    # prepared folder per configuration; class names may come from the data itself
    parametric: bool = False
    class_names_of: Callable[[DictConfig], list[str]] | None = None
    # (examples, bytes a prepared example takes) known from the config alone, checked before any work
    size_of: Callable[[DictConfig], tuple[int, int]] | None = None
    # another library's datasets (data/datasets/tfds.py, huggingface.py): `complete(cfg)` fills the config keys
    # left to the dataset's own description, before the schema's checks; `fetch(cfg, download)` makes the
    # library's copy available (downloading only when `download`, the data.prepare command) in place of `files`;
    # `described(cfg)` is what the manifest records of it (library, name, version, location)
    complete: Callable[[DictConfig], None] | None = None
    fetch: Callable[[DictConfig, bool], None] | None = None
    described: Callable[[DictConfig], dict] | None = None


def load_digits(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, values 0-16, 10 classes."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return {"all": from_arrays(digits.images.astype("uint8"), digits.target.astype("int64"))}


def load_wine(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """scikit-learn's bundled wine recognition set: 178 wines, 13 chemical measurements on very
    different scales (0.1 to 1,680), 3 cultivars. Standardisation matters here."""
    from sklearn.datasets import load_wine as sklearn_wine

    wine = sklearn_wine()
    return {"all": from_arrays(wine.data.astype("float32"), wine.target.astype("int64"))}


def load_diabetes(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """scikit-learn's bundled diabetes set: 442 patients, 10 raw measurements (age, sex, BMI, blood
    pressure, six serum values), target a disease-progression score (25 to 346): regression."""
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    diabetes = sklearn_diabetes(scaled=False)
    return {"all": from_arrays(diabetes.data.astype("float32"), diabetes.target.astype("float32").reshape(-1, 1))}


@dataclass
class MultilabelDatasetConfig(DatasetConfig):
    """scikit-learn's `make_multilabel_classification`: word-count-like features, several labels each."""

    num_samples: int = 2000
    labels_per_example: int = 2  # the average number of labels an example has
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.task == "multilabel", "dataset.task", self.task, "this dataset is multilabel")
        require(10 <= self.num_samples <= 10_000_000, "dataset.num_samples", self.num_samples,
                "must be in [10, 10000000]")
        require(1 <= self.labels_per_example <= self.num_classes, "dataset.labels_per_example",
                self.labels_per_example, f"must be in [1, dataset.num_classes={self.num_classes}]")


def make_multilabel(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    from sklearn.datasets import make_multilabel_classification

    x, y = make_multilabel_classification(
        n_samples=cfg.num_samples, n_features=int(np.prod(cfg.input_shape)), n_classes=cfg.num_classes,
        n_labels=cfg.labels_per_example, allow_unlabeled=False, random_state=cfg.seed)
    return {"all": from_arrays(x.astype("float32"), y.astype("uint8"))}


def make_synthetic(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """Gaussian clusters: one random prototype per class, examples are prototype + noise * N(0, 1).

    Any size and shape, the same examples for the same parameters: for tests and benchmarks. Each
    chunk is generated from its own seeds (labels and noise apart), so a dataset of any size
    streams in constant memory and its labels alone cost next to nothing.
    """
    features = int(np.prod(cfg.input_shape))
    prototypes = np.random.default_rng([cfg.seed, 0]).normal(size=(cfg.num_classes, features))

    def read(labels_only: bool = False) -> Chunks:
        for chunk, start in enumerate(range(0, cfg.num_samples, CHUNK_EXAMPLES)):
            size = min(CHUNK_EXAMPLES, cfg.num_samples - start)
            y = np.random.default_rng([cfg.seed, 1, chunk]).integers(0, cfg.num_classes, size)
            if labels_only:
                yield None, y
                continue
            noise = np.random.default_rng([cfg.seed, 2, chunk]).standard_normal((size, features), dtype=np.float32)
            yield (prototypes[y] + cfg.noise * noise).astype("float32"), y

    return {"all": read}


def _open_idx(path: Path):
    """An IDX file, gzipped (as served) or uncompressed (as some mirrors ship it)."""
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _idx_header(handle, path: Path) -> tuple[int, ...]:
    magic = handle.read(4)
    if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] != 0x08:
        raise UserError(f"{path} is not an IDX file of unsigned bytes")
    dims = handle.read(4 * magic[3])
    return tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(magic[3]))


def read_idx(path: Path) -> np.ndarray:
    """A whole IDX file (MNIST's format: magic 0x0000 0x08 <dims>, big-endian sizes, uint8 data)."""
    return np.concatenate(list(_idx_rows(path, CHUNK_EXAMPLES)))


def _idx_rows(path: Path, rows: int) -> Iterator[np.ndarray]:
    """An IDX file's examples, `rows` at a time, never the whole file in memory."""
    with _open_idx(path) as handle:
        shape = _idx_header(handle, path)
        row_bytes = int(np.prod(shape[1:], dtype=np.int64))
        for start in range(0, shape[0], rows):
            count = min(rows, shape[0] - start)
            block = handle.read(count * row_bytes)
            if len(block) != count * row_bytes:
                raise UserError(f"{path} holds fewer values than the {shape} its header announces")
            yield np.frombuffer(block, dtype=np.uint8).reshape(count, *shape[1:])
        if handle.read(1):
            raise UserError(f"{path} holds more values than the {shape} its header announces")


def load_idx_pair(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """MNIST and Fashion-MNIST: 28x28 grey images in IDX files, official train and test sets."""
    def reader(prefix: str) -> Reader:
        def read(labels_only: bool = False) -> Chunks:
            labels = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype("int64")
            if labels_only:
                yield None, labels
                return
            start = 0
            for images in _idx_rows(files[f"{prefix}-images-idx3-ubyte.gz"], CHUNK_EXAMPLES):
                if start + len(images) > len(labels):
                    raise UserError(f"{files[f'{prefix}-images-idx3-ubyte.gz']} holds more images than "
                                    f"{files[f'{prefix}-labels-idx1-ubyte.gz']} holds labels")
                yield images, labels[start:start + len(images)]
                start += len(images)
            if start != len(labels):
                raise UserError(f"{files[f'{prefix}-images-idx3-ubyte.gz']} holds {start} images for "
                                f"{len(labels)} labels")
        return read

    return {"train": reader("train"), "test": reader("t10k")}


def load_cifar10(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """CIFAR-10's Python version: pickled batches of 10,000 32x32 colour images in a tar.gz, one
    batch in memory at a time."""
    def batch(archive: tarfile.TarFile, name: str) -> Arrays:
        member = archive.extractfile(f"cifar-10-batches-py/{name}")
        if member is None:
            raise UserError(f"{files['cifar-10-python.tar.gz']} lacks cifar-10-batches-py/{name}")
        content = pickle.load(member, encoding="bytes")  # the file's checksum was verified first
        images = np.asarray(content[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(content[b"labels"], dtype="int64")

    def reader(names: list[str]) -> Reader:
        def read(labels_only: bool = False) -> Chunks:
            with tarfile.open(files["cifar-10-python.tar.gz"], "r:gz") as archive:
                for name in names:
                    x, y = batch(archive, name)
                    yield (None if labels_only else x), y
        return read

    return {"train": reader([f"data_batch_{i}" for i in range(1, 6)]), "test": reader(["test_batch"])}


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_MODES = {"1": 1, "L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 2, "RGB": 3, "YCbCr": 3, "RGBA": 4, "CMYK": 4}


def image_folder_parts(root: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES, what: str = "image"
                       ) -> tuple[dict[str, dict[str, list[Path]]], list[str]]:
    """`{part: {class name: files}}` and the class names, read from the folder layout (of images, or of
    the `suffixes` files `what` names: a text folder's `.txt`).

    Parts are `all` for `<root>/<class>/`, or `train` and `test` (and `val`, if given) for
    `<root>/{train,val,test}/<class>/`. Files are sorted, so the order never depends on the disk.
    """
    if not root.is_dir():
        raise UserError(f"dataset.path={root}: no such folder")
    given = {part: root / part for part in ("train", "val", "test") if (root / part).is_dir()}
    if given and "train" not in given:
        raise UserError(f"dataset.path={root} has {'/'.join(given)} but no train/ folder")
    if given and "test" not in given:
        raise UserError(f"dataset.path={root} has a train/ folder but no test/ folder")
    part_dirs = given or {"all": root}
    parts: dict[str, dict[str, list[Path]]] = {}
    for part, directory in part_dirs.items():
        classes = sorted(d.name for d in directory.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise UserError(f"{directory} has no class folders: put each class's {what}s in "
                            f"{directory}/<class name>/")
        parts[part] = {}
        for name in classes:
            files = sorted(f for f in (directory / name).iterdir()
                           if f.is_file() and f.suffix.lower() in suffixes)
            if not files:
                raise UserError(f"{directory / name} holds no {what} ({', '.join(suffixes)}): each class "
                                "needs at least one")
            bad = [f for f in files if "\t" in str(f) or "\n" in str(f)]
            if bad:
                raise UserError(f"{bad[0]!r}: a file name with a tab or a line break cannot be listed; rename it")
            parts[part][name] = files
    class_names = sorted(parts.get("train", parts.get("all", {})))
    for part, classes in parts.items():
        unknown = sorted(set(classes) - set(class_names))
        if unknown:
            raise UserError(f"{part_dirs[part]} has class folder(s) {', '.join(unknown)} that train/ lacks")
    return parts, class_names


def check_images(files: list[Path], channels: int) -> None:
    """Every image decodes fully, and all have one channel count: else one line naming a file."""
    from PIL import Image, UnidentifiedImageError

    seen: dict[int, Path] = {}
    for path in files:
        try:
            with Image.open(path) as image:
                image.load()
                mode = image.mode
                if mode == "P":
                    mode = "RGBA" if "transparency" in image.info else "RGB"
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as error:
            raise UserError(f"{path} is not a readable image: {str(error).splitlines()[0] if str(error) else error}") \
                from None
        seen.setdefault(IMAGE_MODES.get(mode, 3), path)
        if len(seen) > 1:
            (first, first_path), (other, other_path) = list(seen.items())[:2]
            raise UserError(f"mixed channel counts: {first_path} has {first}, {other_path} has {other}; "
                            f"convert the images to one format (dataset.input_shape asks for {channels})")


def load_image_folder(cfg: DictConfig, files: dict[str, Path]) -> dict[str, Reader]:
    """An image folder: examples are image paths (decoded and resized in the input pipeline)."""
    parts, class_names = image_folder_parts(Path(cfg.path).expanduser().resolve())
    if len(class_names) != cfg.num_classes:
        raise UserError(f"dataset.num_classes={cfg.num_classes}, but {cfg.path} has {len(class_names)} class "
                        f"folders ({', '.join(class_names[:10])}{', ...' if len(class_names) > 10 else ''}): "
                        f"set dataset.num_classes={len(class_names)}")
    check_images([f for classes in parts.values() for fs in classes.values() for f in fs], cfg.input_shape[-1])

    def reader(classes: dict[str, list[Path]]) -> Reader:
        paths = np.array([str(f) for name in sorted(classes) for f in classes[name]])
        labels = np.array([class_names.index(name) for name in sorted(classes) for _ in classes[name]], dtype="int64")
        return from_arrays(paths, labels)

    return {part: reader(classes) for part, classes in parts.items()}


def image_folder_class_names(cfg: DictConfig) -> list[str]:
    return image_folder_parts(Path(cfg.path).expanduser().resolve())[1]


def _idx_files(bases: tuple[str, ...], checksums: dict[str, tuple[str, str]]) -> tuple[RemoteFile, ...]:
    """The four IDX files: gzipped as served, or uncompressed (their public SHA-256) placed by hand."""
    return tuple(RemoteFile(name, tuple(base + name for base in bases), gz, (name.removesuffix(".gz"), raw))
                 for name, (gz, raw) in checksums.items())


MNIST_FILES = _idx_files(
    ("https://yann.lecun.com/exdb/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
     "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    {"train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
     "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
     "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
     "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2")})
FASHION_MNIST_FILES = _idx_files(
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
     "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"),
    {"train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
     "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
     "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
     "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34")})
CIFAR10_FILES = (RemoteFile(
    "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),)

SOURCES: dict[str, Source] = {
    "digits": Source(load_digits, class_names=tuple(str(i) for i in range(10))),
    "synthetic": Source(make_synthetic, schema=SyntheticDatasetConfig, parametric=True,
                        size_of=lambda cfg: (cfg.num_samples, 4 * int(np.prod(cfg.input_shape)) + 8)),
    "wine": Source(load_wine, class_names=("class_0", "class_1", "class_2")),
    "diabetes": Source(load_diabetes, class_names=("disease_progression",)),
    "multilabel": Source(make_multilabel, schema=MultilabelDatasetConfig, parametric=True,
                         class_names_of=lambda cfg: [f"label_{i}" for i in range(cfg.num_classes)]),
    "image_folder": Source(load_image_folder, schema=ImageFolderConfig, parametric=True,
                           class_names_of=image_folder_class_names),
    "mnist": Source(load_idx_pair, MNIST_FILES, tuple(str(i) for i in range(10))),
    "fashion_mnist": Source(load_idx_pair, FASHION_MNIST_FILES, (
        "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")),
    "cifar10": Source(load_cifar10, CIFAR10_FILES, (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")),
}

def source_name(cfg: DictConfig) -> str:
    """The key of the source that reads dataset `cfg`: its `source`, or else its `name`."""
    return cfg.get("source") or cfg.name


LOCATION_KEYS = ("tfds_dir", "subset", "revision", "cache_dir")  # where another library's dataset is found


def prepare_command(cfg: DictConfig) -> str:
    """The `python -m data.prepare ...` command that prepares dataset `cfg` (its name, and where its library
    keeps it, as arguments where the source reads datasets of another library by name)."""
    source = source_name(cfg)
    if source == cfg.name:
        return f"python -m data.prepare {source}"
    where = "".join(f" {key}={cfg[key]}" for key in LOCATION_KEYS if cfg.get(key) is not None)
    return f"python -m data.prepare {source} name={cfg.name}{where}"


def dataset_schema(name: str) -> type[DatasetConfig]:
    """The schema of dataset `name`'s config keys; UserError for a dataset no source provides."""
    if name not in SOURCES:
        raise UserError(f"dataset.name={name!r} is not a known dataset; known: {', '.join(SOURCES)}")
    return SOURCES[name].schema


def register_source(name: str, source: Source) -> None:
    """Make dataset `name` known: its source, its name for `dataset.name`, its schema for its YAML
    (`/schema/dataset/<name>@_here_`) and for run folders that name it."""
    SOURCES[name] = source
    register_dataset_name(name)
    register_schema("dataset", name, source.schema)
    if source.complete is not None:
        DATASET_COMPLETERS[name] = source.complete


register_schema("dataset", "dataset", DatasetConfig)  # the schema of datasets with no keys of their own
for _name, _source in list(SOURCES.items()):
    register_source(_name, _source)
