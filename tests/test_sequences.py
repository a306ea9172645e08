"""Sequences and text through every stage: the embedded `topics` texts and the `waves` numeric sequences,
prepared into TFRecord shards, trained by `rnn` and `transformer`, killed and resumed, evaluated, inferred
from raw strings or sequences of any length, exported and served with TensorFlow alone."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from tests.conftest import read_metrics, run_main, serve_exported
from tests.test_resume import comparable_metrics, scalar_series

pytestmark = pytest.mark.xdist_group("sequences")  # one worker: the module's runs are made once

TOPICS = ["dataset=topics", "dataset.num_samples=400", "dataset.max_words=16", "dataset.max_length=24",
          "dataset.tokenizer.vocabulary_size=60"]
WAVES = ["dataset=waves", "dataset.num_samples=200", "dataset.max_length_generated=40", "dataset.max_length=32"]
SMALL_RNN = ["model=rnn", "model.units=8", "model.embedding_dim=8"]
SMALL_TRANSFORMER = ["model=transformer", "model.layers=1", "model.width=8", "model.heads=2", "model.feedforward=16"]
COMMON = ["trainer.epochs=2", "seed=3", "trainer.keep_checkpoints=1", "trainer.batch_size=16"]
ARGS = {"rnn_topics": [*SMALL_RNN, *TOPICS, *COMMON, "model.bidirectional=false", "dataset.cache=none",
                       "dataset.shuffle_window=50"],  # streamed from the shards, shuffled in windows
        "transformer_topics": [*SMALL_TRANSFORMER, *TOPICS, *COMMON, "trainer.precision=mixed_bfloat16",
                               "dataset.tokenizer.kind=wordpiece", "dataset.tokenizer.vocabulary_size=120",
                               "dataset.max_length=48", "data_dir=data_wordpiece"],  # sub-words: other data
        "transformer_waves": [*SMALL_TRANSFORMER, *WAVES, *COMMON, "optimizer.lr=0.01", "trainer.epochs=5"],
        "rnn_waves": [*SMALL_RNN, *WAVES, *COMMON, "optimizer.lr=0.01", "trainer.epochs=5", "model.cell=lstm",
                      "model.bidirectional=false"]}  # bidirectional: test_padding_changes_no_output
TEXTS = ["Yesterday the team was not brilliant in the final.", "The experiment was superb and elegant!"]
CHAIN = [("batch", 1), ("evaluating", 0)]  # inside an epoch, and after training (tests/test_resume.py: all moments)
LOGS: dict[str, str] = {}  # each trained run's stderr


def json_stdout(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def error_line(result) -> str:
    assert result.returncode != 0, result.stdout
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("sequences")


class TrainedRuns(dict):
    """The module's runs by name, each trained when a test first asks for it: the text tests and the waves
    tests are two xdist groups, each worker training only the runs its group reads."""

    def __init__(self, workdir) -> None:
        super().__init__()
        self.workdir = workdir

    def __missing__(self, name: str):
        result = run_main(self.workdir, *ARGS[name])
        assert result.returncode == 0, result.stderr
        LOGS[name] = result.stderr
        model, dataset = name.split("_")
        self[name] = sorted((self.workdir / "results" / model / dataset).iterdir())[-1]
        return self[name]


@pytest.fixture(scope="module")
def trained(workdir) -> TrainedRuns:
    return TrainedRuns(workdir)


WAVES_GROUP = pytest.mark.xdist_group("sequence_waves")


def manifest(workdir, name: str) -> dict:
    [folder] = (workdir / "data").glob(f"{name}-*")
    return json.loads((folder / "manifest.json").read_text())


def test_text_is_stored_as_tfrecords_with_its_vocabulary_and_lengths(workdir, trained):
    from data.prepare import load_split

    trained["rnn_topics"]  # noqa: B018 -- trains it, and prepares topics
    topics = manifest(workdir, "topics")
    assert topics["record"] == {"format": "sequences", "x_dtype": "string", "x_shape": [None], "y_dtype": "int64",
                                "y_shape": []}
    shards = [shard["file"] for entry in topics["splits"].values() for shard in entry["shards"]]
    assert shards and all(file.endswith(".tfrecord") for file in shards)
    vocabulary = topics["stats"]["tokenizer"]["vocabulary"]
    assert vocabulary[:3] == ["", "[UNK]", "not"] and len(vocabulary) == 60  # "not": in about half the texts
    lengths = topics["splits"]["train"]["lengths"]
    assert 9 <= lengths["min"] <= lengths["median"] <= lengths["max"] <= 19  # 8-16 words, "not", a negated opinion
    assert sum(count for _, count in lengths["histogram"]) == topics["splits"]["train"]["count"]
    [folder] = (workdir / "data").glob("topics-*")
    texts, labels = load_split(folder, "test")
    assert isinstance(texts[0], str) and texts[0].endswith(".") and labels.dtype == np.int64
    # the run keeps the vocabulary it was trained with
    record = json.loads((trained["rnn_topics"] / "preprocessing.json").read_text())
    assert record["tokenizer"] == {"kind": "words", "vocabulary_size": 60, "lowercase": True,
                                   "strip_punctuation": True, "vocabulary": vocabulary}
    assert "cuts" not in LOGS["rnn_topics"]  # 19 tokens at most: nothing to cut


@WAVES_GROUP
def test_numeric_sequences_are_stored_per_step_and_cut_to_max_length(workdir, trained):
    from data.prepare import load_split

    trained["transformer_waves"]  # noqa: B018 -- trains it, and prepares waves
    waves = manifest(workdir, "waves")
    assert waves["record"]["x_shape"] == [None, 2] and len(waves["stats"]["feature_mean"]) == 2  # per channel
    assert 20 <= waves["splits"]["val"]["lengths"]["min"] and waves["splits"]["val"]["lengths"]["max"] <= 40
    [folder] = (workdir / "data").glob("waves-*")
    steps, _ = load_split(folder, "train")
    assert all(row.shape[1] == 2 for row in steps)
    cut = sum(len(row) > 32 for row in steps)  # dataset.max_length=32 of waves of 20 to 40 steps: training says so
    assert 0 < cut and f"dataset.max_length=32 cuts {cut} of the {len(steps)} train sequences" in LOGS[
        "transformer_waves"]


def test_text_models_report_their_metrics(trained):
    rnn, transformer = read_metrics(trained["rnn_topics"]), read_metrics(trained["transformer_topics"])
    for metrics in (rnn, transformer):
        assert set(metrics["test"]) == {"loss", "accuracy"}


@WAVES_GROUP
def test_sequence_models_learn_the_shapes_of_waves(trained):
    for name in ("transformer_waves", "rnn_waves"):
        with open(trained[name] / "history.csv") as handle:
            history = list(csv.DictReader(handle))
        assert float(history[-1]["loss"]) < float(history[0]["loss"]), name  # it learns the shapes
        assert read_metrics(trained[name])["val"]["accuracy"] > 0.4, name  # 4 shapes: chance is 0.25


def test_a_streamed_text_run_killed_at_any_moment_resumes_to_the_uninterrupted_run(workdir, trained):
    results, folder = "killed", None
    for point, epoch in CHAIN:
        start = ARGS["rnn_topics"] if folder is None else [f"run={folder}"]
        killed = run_main(workdir, *start, f"results_dir={results}", fault={"point": point, "epoch": epoch})
        assert killed.returncode == -9, (point, killed.stderr)
        [folder] = (workdir / results / "rnn" / "topics").iterdir()
    resumed = run_main(workdir, f"run={folder}", f"results_dir={results}")
    assert resumed.returncode == 0, resumed.stderr
    reference = trained["rnn_topics"]
    assert comparable_metrics(folder) == comparable_metrics(reference)
    assert (folder / "history.csv").read_text() == (reference / "history.csv").read_text()
    assert scalar_series(folder) == scalar_series(reference)


def test_evaluate_infer_from_strings_and_a_served_savedmodel_agree(workdir, trained):
    run_dir = trained["rnn_topics"]
    evaluated = json_stdout(run_main(workdir, "stage=evaluate", f"run={run_dir}"))
    assert evaluated["test"] == pytest.approx(read_metrics(run_dir)["test"], rel=1e-6)
    inline = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}", f"input={json.dumps(TEXTS)}"))
    predictions = inline["predictions"]
    assert len(predictions) == 2 and set(predictions[0]) == {"probabilities", "class"}
    assert sum(predictions[0]["probabilities"]) == pytest.approx(1, abs=1e-5)
    (workdir / "texts.txt").write_text("\n".join(TEXTS) + "\n")  # one text per line
    from_file = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}", f"input={workdir / 'texts.txt'}"))
    assert from_file["predictions"] == predictions
    piped = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}", "input=-", stdin=TEXTS[1] + "\n"))
    assert piped["predictions"] == predictions[1:]  # alone, unpadded: the same as in a padded batch
    exported = json_stdout(run_main(workdir, "stage=export", f"run={run_dir}"))
    served = serve_exported(workdir, exported["saved_model"], np.array(TEXTS))
    assert served["class"] == [p["class"] for p in predictions]
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predictions], atol=1e-5)


def test_a_wordpiece_model_reads_words_it_never_saw_and_is_served_with_strings(workdir, trained):
    run_dir = trained["transformer_topics"]
    [folder] = (workdir / "data_wordpiece").glob("topics-*")
    tokenizer = json.loads((folder / "manifest.json").read_text())["stats"]["tokenizer"]
    vocabulary = tokenizer["vocabulary"]
    assert tokenizer["kind"] == "wordpiece" and len(vocabulary) == 120 and "##s" in vocabulary
    record = json.loads((run_dir / "preprocessing.json").read_text())["tokenizer"]
    assert record == tokenizer  # the run keeps the pieces it was trained with
    texts = ["The teams were brilliantly superb", "Zzyzx quantumly"]  # words no topics text holds
    import tensorflow as tf

    from data.text import Tokenizer

    ids = Tokenizer(record)(tf.constant(texts)).to_list()
    assert len(ids[0]) > 5 and ids[0].count(1) == 0  # five words in known pieces, none unknown
    inferred = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}", f"input={json.dumps(texts)}"))
    exported = json_stdout(run_main(workdir, "stage=export", f"run={run_dir}"))
    served = serve_exported(workdir, exported["saved_model"], np.array(texts))
    assert served["class"] == [p["class"] for p in inferred["predictions"]]
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in inferred["predictions"]],
                               atol=1e-2)  # bfloat16 (trainer.precision=mixed_bfloat16)


@WAVES_GROUP
def test_numeric_sequences_of_any_length_are_inferred_and_served(workdir, trained):
    from data.prepare import load_split

    run_dir = trained["transformer_waves"]
    [folder] = (workdir / "data").glob("waves-*")
    x, _ = load_split(folder, "test")
    short, long = x[0][:5], x[1]  # 5 steps, and 20 or more
    inferred = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}",
                                    f"input={json.dumps([short.tolist(), long.tolist()])}"))
    predictions = inferred["predictions"]
    alone = json_stdout(run_main(workdir, "stage=infer", f"run={run_dir}", f"input={json.dumps(short.tolist())}"))
    np.testing.assert_allclose(alone["predictions"][0]["probabilities"], predictions[0]["probabilities"], atol=1e-5)
    exported = json_stdout(run_main(workdir, "stage=export", f"run={run_dir}"))
    padded = np.full((2, len(long), 2), 99.0, "float32")  # whatever pads the batch: `lengths` says what counts
    padded[0, :5], padded[1] = short, long
    served = serve_exported(workdir, exported["saved_model"], {"inputs": padded,
                                                               "lengths": np.array([5, len(long)])})
    np.testing.assert_allclose(served["probabilities"], [p["probabilities"] for p in predictions], atol=1e-5)


@WAVES_GROUP
def test_bad_numeric_sequence_input_is_one_line(workdir, trained):
    waves = trained["transformer_waves"]
    cases = [
        (waves, '["a wave"]', "error: input element 0 must hold numbers only, in a regular nested list; the "
                              "model takes sequences of steps of 2 values ([[v1, ..., v2], ...]), one or a list of "
                              "them"),
        (waves, "[[[1, 2, 3], [4, 5, 6]]]", "error: input element 0 has shape [2, 3]; the model takes sequences of "
                                            "steps of 2 values ([[v1, ..., v2], ...]), one or a list of them"),
        (waves, "[[]]", "error: input element 0 is an empty sequence; the model takes sequences of steps of 2 "
                        "values ([[v1, ..., v2], ...]), one or a list of them"),
    ]
    for run_dir, given, expected in cases:
        result = run_main(workdir, "stage=infer", f"run={run_dir}", f"input={given}")
        assert result.returncode == 2 and error_line(result) == expected, (given, result.stderr)


def test_bad_text_input_is_one_line(workdir, trained):
    text = trained["rnn_topics"]
    cases = [
        ('["a fine match", ""]', "error: input element 1 is an empty text; every element needs at least one word"),
        ("[[1, 2, 3]]", "error: input element 0 is list [1, 2, 3], not a text; the model reads text "
                        "(input='[\"a text\", \"another\"]')"),
    ]
    for given, expected in cases:
        result = run_main(workdir, "stage=infer", f"run={text}", f"input={given}")
        assert result.returncode == 2 and error_line(result) == expected, (given, result.stderr)
    (workdir / "latin1.txt").write_bytes("un match très ennuyeux\n".encode("latin-1"))
    result = run_main(workdir, "stage=infer", f"run={text}", f"input={workdir / 'latin1.txt'}")
    assert error_line(result) == (f"error: input={workdir / 'latin1.txt'} is not UTF-8 text: byte 11 (0xe8) cannot "
                                  "be decoded; convert it (e.g. iconv -t utf-8)")
    assert not list((text / "infer").glob("*/predictions.json")) or all(
        json.loads(p.read_text())["predictions"] for p in (text / "infer").glob("*/predictions.json"))


def test_models_and_datasets_that_do_not_fit_are_one_line(workdir, trained):
    cases = [
        (["model=mlp", *TOPICS], "error: model=mlp takes inputs of one fixed shape; dataset topics holds sequences of "
                                 "any length (text): use model=rnn or model=transformer, or a model that declares "
                                 "takes_sequences = True"),
        (["model=rnn", "dataset=digits"], "error: model=rnn takes sequences; dataset digits has inputs of shape "
                                          "[8, 8, 1]: use a text or sequence dataset (input_shape [null] or [null, "
                                          "channels], e.g. dataset=topics)"),
        (["model=transformer", *TOPICS, "dataset.max_length=null"],
         "error: model=transformer learns one position embedding per step: set dataset.max_length (e.g. "
         "dataset.max_length=256) for dataset topics"),
    ]
    for args, expected in cases:
        result = run_main(workdir, *args, "trainer.epochs=1", "results_dir=refused")
        assert result.returncode == 2 and error_line(result) == expected, (args, result.stderr)
    assert not (workdir / "refused").exists() or not any((workdir / "refused").rglob("metrics.json"))


def test_a_dataset_of_empty_texts_is_refused(tmp_path):
    from omegaconf import OmegaConf

    from conf.errors import UserError
    from data.prepare import _write_sequence_splits
    from data.sources import from_arrays
    from tests.conftest import compose_config

    cfg = compose_config("model=rnn", *TOPICS).dataset
    texts = np.array(["...", "!!", " "] * 20, dtype=object)
    plans = {"all": np.zeros(len(texts), dtype=np.int8)}
    with pytest.raises(UserError, match="every text of its train split is empty once tokenized"):
        _write_sequence_splits(tmp_path, {"all": from_arrays(texts, np.zeros(len(texts), "int64"))}, plans,
                               OmegaConf.create(OmegaConf.to_container(cfg)))
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_vocabulary_is_a_pure_function_of_the_counts_and_tokenizing_is_stateless():
    from collections import Counter

    import tensorflow as tf

    from data.text import Tokenizer, fitted_vocabulary

    counts = Counter({"b": 3, "a": 3, "c": 1, "[UNK]": 9, "d": 1})
    assert fitted_vocabulary(counts, 5) == ["", "[UNK]", "a", "b", "c"]  # ties in token order; [UNK] kept aside
    record = {"kind": "words", "vocabulary_size": 5, "lowercase": True, "strip_punctuation": True,
              "vocabulary": ["", "[UNK]", "a", "b", "c"]}
    tokenizer = Tokenizer(record)
    ids = tokenizer(tf.constant(["A b, zebra C!", ""]))
    assert ids.to_list() == [[2, 3, 1, 4], []]
    characters = Tokenizer({**record, "kind": "characters", "vocabulary": ["", "[UNK]", "a", "b", " "]})
    assert characters(tf.constant(["Ab c"])).to_list() == [[2, 3, 4, 1]]
    graph = tf.function(tokenizer).get_concrete_function(tf.TensorSpec([None], tf.string)).graph
    stateful = [op.type for op in graph.get_operations() if op._is_stateful]  # tf.data would run them serially
    assert stateful == []


@pytest.mark.parametrize(("cache", "run"), [("memory", "rnn_topics"), ("none", "rnn_topics"),
                                            ("none", "transformer_topics")])  # words, and wordpiece streamed
def test_buckets_batch_similar_lengths_and_keep_every_epoch_a_function_of_the_seed(workdir, trained, cache, run):
    from data.pipeline import split_source, training_batches
    from tests.conftest import compose_config

    trained[run]  # noqa: B018 -- prepares its topics
    [folder] = (workdir / ("data" if run == "rnn_topics" else "data_wordpiece")).glob("topics-*")
    dataset = [arg for arg in ARGS[run] if arg.startswith("dataset.")]
    cfg = compose_config("model=rnn", *TOPICS, *dataset, "dataset.bucket_boundaries=[12,16]",
                         f"dataset.cache={cache}", "dataset.shuffle_window=40").dataset
    source = split_source(folder, json.loads((folder / "manifest.json").read_text()), "train", cfg)
    steps = source.training_steps(16)
    assert steps >= -(-source.count // 16)  # each bucket ends in a batch of its own
    epochs = [[x.numpy() for x, _ in training_batches(source, 16, 7, epoch, epoch + 1)] for epoch in (0, 1)]
    both = [x.numpy() for x, _ in training_batches(source, 16, 7, 0, 2)]
    assert len(both) == 2 * steps and len(epochs[0]) == steps
    assert all((a == b).all() for a, b in zip(both, epochs[0] + epochs[1]))  # resumed at epoch 1: the same
    assert sum(len(batch) for batch in epochs[0]) == source.count
    for batch in epochs[0]:  # a batch's real lengths share one bucket: < 12, 12-15, >= 16
        lengths = (batch != 0).sum(axis=1)
        assert len({int((n >= 12) + (n >= 16)) for n in lengths}) == 1


@pytest.mark.parametrize("model", ["rnn", "transformer"])
def test_padding_changes_no_output(model):
    """A sequence's outputs are the same alone and in a batch padded to a longer member: padding is masked."""
    import numpy as np

    from data.preprocessing import Preprocessing
    from models import build_model
    from tests.conftest import compose_config

    args = SMALL_RNN if model == "rnn" else SMALL_TRANSFORMER
    for dataset in (["dataset=waves", "dataset.max_length=16"], TOPICS):
        config = compose_config(*args, *dataset)
        text = "tokenizer" in config.dataset and bool(config.dataset.tokenizer)
        record = {"kind": "words", "vocabulary_size": 60, "lowercase": True, "strip_punctuation": True,
                  "vocabulary": ["", "[UNK]", *(f"w{i}" for i in range(58))]} if text else None
        built = build_model(config, Preprocessing("none", 1.0, tokenizer=record))
        rng = np.random.default_rng(0)
        if text:
            short, long = rng.integers(2, 60, (1, 5)), rng.integers(2, 60, (1, 12))
            batch = np.concatenate([np.pad(short, [[0, 0], [0, 7]]), long]).astype("int32")
        else:
            short, long = rng.normal(size=(1, 5, 2)), rng.normal(size=(1, 12, 2))
            padding = np.full((1, 7, 2), built.padding_value)
            batch = np.concatenate([np.concatenate([short, padding], axis=1), long]).astype("float32")
        alone = built.predict_outputs(short.astype(batch.dtype))["probabilities"]
        padded = built.predict_outputs(batch)["probabilities"]
        np.testing.assert_allclose(padded[:1], alone, atol=1e-5)
        assert not np.allclose(padded[0], padded[1])  # the other sequence is read, not masked away
