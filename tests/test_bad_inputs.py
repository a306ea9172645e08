"""The catalogue of bad input: each case ends with exit status 2 and exactly one line on stderr, starting
`error:` and naming the key or file at fault, with no traceback, nothing left behind and earlier
results untouched.

Cases cover the command line's config, the stages and the run folders they act on (crafted as an
attacker would: interpolations, aliases, symbolic links, huge files, foreign code), infer's input,
sweeps, `python -m data.prepare` and `python -m hpsearch.promote`. `RUN` in a case stands for a
finished run, `CRAFTED` for a copy of it that the case damages first (see `CRAFT`), `FILE` for a plain
file and `EMPTY_DIR` for an empty folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_main


def alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for index in range(1, 9):
        lines.append(f"{chr(97 + index)}: &{chr(97 + index)} [{', '.join([f'*{chr(96 + index)}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _edit_config(run: Path, old: str, new: str) -> None:
    path = run / ".hydra" / "config.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _edit_line(run: Path, start: str, line: str) -> None:
    path = run / ".hydra" / "config.yaml"
    lines = path.read_text().splitlines()
    assert any(text.startswith(start) for text in lines), start
    path.write_text("\n".join(line if text.startswith(start) else text for text in lines) + "\n")


def _link(run: Path, name: str, outside: Path) -> None:
    target = run / name
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    outside.mkdir(exist_ok=True)
    target.symlink_to(outside, target_is_directory=True)


# How each crafted run is damaged, by name (the case's `run=CRAFTED:<name>`).
CRAFT = {
    "env": lambda run, out: _edit_config(run, "activation: relu", "activation: ${oc.env:HOME}"),
    "resolver": lambda run, out: _edit_line(run, "data_dir:", f"data_dir: ${{unique_dir:{out}/made}}"),
    "aliases": lambda run, out: (run / ".hydra" / "config.yaml").write_text(alias_bomb()),
    "huge": lambda run, out: (run / ".hydra" / "config.yaml").write_text("x: " + "y" * (2 << 20) + "\n"),
    "not_yaml": lambda run, out: (run / ".hydra" / "config.yaml").write_text("model: [unclosed\n"),
    "foreign_code": lambda run, out: _edit_config(run, "_target_: models.MLP", "_target_: os.system"),
    "choice_escape": lambda run, out: (run / ".hydra" / "hydra.yaml").write_text(
        (run / ".hydra" / "hydra.yaml").read_text().replace("model: mlp", "model: ../../x")),
    "checkpoints_link": lambda run, out: _link(run, "checkpoints", out),
    "evaluate_link": lambda run, out: _link(run, "evaluate", out),
    "history_link": lambda run, out: ((run / "history.csv").unlink(), (run / "history.csv").symlink_to(out / "h")),
    "state_garbage": lambda run, out: (run / "checkpoints" / "state.json").write_text("{not json"),
    "state_huge": lambda run, out: (run / "checkpoints" / "state.json").write_text(" " * (2 << 20) + "{}"),
    "state_names_missing": lambda run, out: (run / "checkpoints" / "state.json").write_text(
        json.dumps({"last_epoch": 9, "best_epoch": 9})),
    "checkpoint_corrupt": lambda run, out: [p.write_bytes(b"PK\x03\x04 not really")
                                            for p in (run / "checkpoints").glob("epoch_*.keras")],
    "preprocessing_garbage": lambda run, out: (run / "preprocessing.json").write_text("[1, 2"),
    "preprocessing_wrong": lambda run, out: (run / "preprocessing.json").write_text(
        json.dumps({"kind": "standardize", "mean": [1.0], "std": [0.0]})),
    "absurd_size": lambda run, out: _edit_config(run, "- 16\n", "- 100000000000\n"),
}

N = ",".join(["0"] * 64)
CASES = [
    # ---- the config on the command line
    (["model.hidden_units=abc"], "error: model.hidden_units: "),
    (["model.hidden_units=[0]"], "model.hidden_units"),
    (["model.hidden_units=[]"], "model.hidden_units"),
    (["model.hiden=3"], "model.hiden: unknown key; allowed: hidden_units, dropout, activation"),
    (["+model.extra=3"], "model.extra"),
    (["+nosuch=1"], "nosuch"),
    (["model.dropout=1.5"], "model.dropout=1.5 is invalid: must be in [0, 1)"),
    (["model.dropout=-0.1"], "model.dropout=-0.1 is invalid"),
    (["model.dropout=["], "error: cannot parse override: "),
    (["model.activation=swishy"], "model.activation='swishy' is invalid: must be one of"),
    (["model=foo"], "model=foo: no such option; available: cnn, mlp, resnet, rnn, transformer, vae"),
    (["model=cnn", "model.filters=0"], "model.filters=0 is invalid"),
    (["model=cnn", "model.blocks=-1"], "model.blocks=-1 is invalid"),
    (["model=cnn", "model.batch_norm=maybe"], "model.batch_norm"),
    (["model=cnn", "model.hidden_units=[8]"], "model.hidden_units"),
    (["model=cnn", "dataset.input_shape=[64]"], "input_shape"),
    (["model=resnet", "dataset.input_shape=[64]"], "model=resnet needs image-shaped inputs (height, width, channels); "
                                                   "dataset.input_shape is [64]"),
    (["model=resnet", "model.depth=21"], "model.depth=21 is invalid: must be 6n + 2 with n >= 1"),
    (["model=resnet", "model.shortcut=option_c"], "model.shortcut='option_c' is invalid: must be one of zero_pad, "
                                                  "projection"),
    (["model=vae"], "dataset.task='classification' is invalid: model models.VAE trains on unsupervised: add "
                    "dataset.task=unsupervised (the labels are not used)"),
    (["model=vae", "dataset.task=unsupervised", "model.likelihood=poisson"], "model.likelihood='poisson' is invalid"),
    (["dataset.task=unsupervised"], "dataset.task='unsupervised' is invalid: model models.MLP trains on "
                                    "classification, multilabel, regression"),
    (["optimizer.schedule=step"], "optimizer.milestones=[] is invalid: optimizer.schedule=step needs at least one "
                                  "epoch"),
    (["optimizer.milestones=[5,3]"], "optimizer.milestones=[5, 3] is invalid: epochs >= 1 in increasing order"),
    (["dataset=digit_features", "dataset.targets.ink.task=ranking"], "dataset.targets.ink="),
    (["dataset=digit_features", "dataset.features.image.shape=[0]"], "dataset.features.image.shape=[0] is invalid"),
    (["dataset=digit_features", "dataset.input_shape=[64]"], "dataset.input_shape=[64] is invalid: is not used with "
                                                             "dataset.features"),
    # sequences and text (issue #22)
    (["model=rnn", "dataset=topics", "dataset.tokenizer.kind=bpe"],
     "dataset.tokenizer.kind='bpe' is invalid: must be one of words, characters, wordpiece"),
    (["model=rnn", "dataset=topics", "dataset.tokenizer.vocabulary_size=2"],
     "dataset.tokenizer.vocabulary_size=2 is invalid: tokens kept, padding and unknown included: in [3, 1048576]"),
    (["model=rnn", "dataset=topics", "+dataset.tokenizer.ngrams=2"], "dataset.tokenizer={'kind': 'words', "),
    (["model=rnn", "dataset=waves", "dataset.dtype=string", "dataset.input_shape=[null]"],
     "dataset.tokenizer={} is invalid: text "
                                                               "(dataset.dtype=string) needs a tokenizer"),
    (["model=rnn", "dataset=topics", "dataset.input_shape=[null,3]"], "dataset.input_shape=[None, 3] is invalid: "
                                                                      "text (dataset.dtype=string) is a sequence"),
    (["model=rnn", "dataset=waves", "dataset.input_shape=[4,null]"], "dataset.input_shape=[4, None] is invalid: a "
                                                                     "null size only as the first (time) axis"),
    (["model=rnn", "dataset=waves", "dataset.dtype=bytes"], "dataset.dtype='bytes' is invalid: must be one of "
                                                            "string, int64, float32"),
    (["model=rnn", "dataset=waves", "dataset.bucket_boundaries=[32,16]"],
     "dataset.bucket_boundaries=[32, 16] is invalid: lengths >= 1 in increasing order"),
    (["model=rnn", "dataset=waves", "dataset.max_length=0"], "dataset.max_length=0 is invalid: must be >= 1, or "
                                                             "null"),
    (["model=rnn", "dataset=waves", "dataset.augment=[{name:flip}]"],
     "dataset.augment=[{'name': 'flip'}] is invalid: augmentation is for images; this dataset holds sequences"),
    (["dataset.max_length=64"], "dataset.max_length=64 is invalid: only sequences are cut or bucketed"),
    (["model=rnn", "dataset=waves", "model.cell=rnn"], "model.cell='rnn' is invalid: must be one of gru, lstm"),
    (["model=transformer", "dataset=waves", "model.width=10", "model.heads=4"],
     "model.width=10 is invalid: must be a multiple of model.heads=4"),
    (["model=transformer", "dataset=waves", "model.pooling=sum"], "model.pooling='sum' is invalid: must be one of "
                                                                  "mean, max"),
    (["dataset=bar"], "dataset=bar: no such option; available: cifar10, diabetes, digit_features, digits, fashion_mnist, "
                      "huggingface, image_folder, imdb, mnist, multilabel, synthetic, text_file, text_folder, tfds, topics, "
                      "waves, wine"),
    (["optimizer=nosuch"], "optimizer=nosuch: no such option"),
    (["trainer=nosuch"], "trainer=nosuch: no such option"),
    (["stage=nosuch"], "stage=nosuch: no such option"),
    (["hpsearch=nosuch"], "hpsearch=nosuch: no such option"),
    (["+best_params=nosuch"], "best_params=nosuch: no such option"),
    (["trainer.epochs=0"], "trainer.epochs=0 is invalid: must be >= 1"),
    (["logger=wandb", "logger.wandb.mode=sometimes"], "logger.wandb.mode='sometimes' is invalid: choose among online, "
                                                      "offline, disabled"),
    (["logger=wandb", "+logger.wandb.projekt=x"], "logger.wandb.projekt='x' is invalid: unknown setting; logger.wandb "
                                                  "takes project, entity, mode, group, tags"),
    (["logger=nosuch"], "logger=nosuch: no such option"),
    (["logger=wandb", "logger.wandb=3"], "logger.wandb=3 is invalid: must be a mapping of settings"),
    (["logger=wandb", "logger.wandb.tags=5"], "logger.wandb.tags=5 is invalid: must be a list of words"),
    (["trainer.epochs=-3"], "trainer.epochs=-3 is invalid"),
    (["trainer.epochs=abc"], "trainer.epochs"),
    (["trainer.epochs=1.5"], "trainer.epochs"),
    (["trainer.batch_size=0"], "trainer.batch_size=0 is invalid: must be >= 1"),
    (["trainer.batch_size=many"], "trainer.batch_size"),
    (["trainer.keep_checkpoints=0"], "trainer.keep_checkpoints=0 is invalid"),
    (["trainer.early_stopping_patience=0"], "trainer.early_stopping_patience"),
    (["trainer.monitor=accuracy_x"], "trainer.monitor='accuracy_x' is invalid"),
    (["trainer.precision=float8"], "trainer.precision='float8' is invalid"),
    (["trainer.jit_compile=maybe"], "trainer.jit_compile"),
    (["trainer.steps_per_execution=0"], "trainer.steps_per_execution=0 is invalid"),
    (["trainer.distribute=mirrored", "trainer.devices=[/cpu:0,/cpu:1]", "trainer.steps_per_execution=8"],
     "trainer.steps_per_execution=8 is invalid: must be 1 with trainer.distribute=mirrored"),
    (["trainer.threads=0"], "trainer.threads=0 is invalid: must be >= 1, or null for every core"),
    (["trainer.distribute=tpu"], "trainer.distribute='tpu' is invalid"),
    (["trainer.deterministic=sometimes"], "trainer.deterministic"),
    (["optimizer.lr=-1"], "optimizer.lr=-1.0 is invalid: must be > 0"),
    (["optimizer.lr=0"], "optimizer.lr=0.0 is invalid"),
    (["optimizer.lr=abc"], "optimizer.lr"),
    (["optimizer.lr=nan"], "optimizer.lr=nan is invalid"),
    (["optimizer.weight_decay=-1"], "optimizer.weight_decay=-1.0 is invalid"),
    (["optimizer.momentum=1"], "optimizer.momentum=1.0 is invalid"),
    (["optimizer.clipnorm=-1"], "optimizer.clipnorm=-1.0 is invalid"),
    (["optimizer.schedule=zigzag"], "optimizer.schedule='zigzag' is invalid"),
    (["optimizer.warmup_epochs=-1"], "optimizer.warmup_epochs=-1 is invalid"),
    (["optimizer.min_lr_ratio=2"], "optimizer.min_lr_ratio=2.0 is invalid"),
    (["optimizer.name=adamw2"], "optimizer.name='adamw2' is invalid"),
    (["seed=-1"], "seed=-1 is invalid"),
    (["seed=4294967296"], "seed=4294967296 is invalid"),
    (["seed=abc"], "seed"),
    (["best=maybe"], "best"),
    (["best=true", "dataset=wine"], "best=true: no best configuration for model=mlp on dataset=wine"),
    (["optimized_metric=val_nosuch"], "optimized_metric='val_nosuch' is invalid"),
    (["optimized_metric=[]"], "optimized_metric=[] is invalid"),
    (["dataset.task=ranking"],
     "dataset.task='ranking' is invalid: must be one of classification, multilabel, regression"),
    (["dataset=diabetes", "optimized_metric=val_accuracy"],
     "optimized_metric='val_accuracy' is invalid: task regression reports train_loss, train_mae, "),
    (["dataset=multilabel", "trainer.monitor=val_accuracy"],
     "trainer.monitor='val_accuracy' is invalid: task multilabel reports val_loss, val_auc, "),
    (["dataset.normalize=zscore"], "dataset.normalize='zscore' is invalid: must be one of scale, "),
    (["dataset.cache=disk"], "dataset.cache='disk' is invalid"),
    (["dataset.shuffle_window=0"], "dataset.shuffle_window=0 is invalid"),
    (["dataset.val_fraction=1.5"], "dataset.val_fraction=1.5 is invalid"),
    (["dataset.test_fraction=-0.1"], "dataset.test_fraction=-0.1 is invalid"),
    (["dataset.input_shape=[]"], "dataset.input_shape"),
    (["dataset.input_shape=[7,7,1]"], "input_shape"),
    (["dataset.num_classes=3"], "dataset.num_classes=3 does not fit dataset=digits"),
    (["dataset=wine", "dataset.augment=[{name:flip}]"], "augmentation is for image datasets"),
    (["dataset.augment=[{name:rotate,factor:2}]"], "dataset.augment[0].factor=2 is invalid: a fraction in [0, 0.5]"),
    (["dataset.augment=[{name:translate,factor:-0.1}]"], "dataset.augment[0].factor=-0.1 is invalid"),
    (["dataset.augment=[{name:blur}]"],
     "dataset.augment[0]={'name': 'blur'} is invalid: a mapping with name: one of flip, translate, rotate, contrast, "
     "crop"),
    (["dataset.augment=[{name:flip,mode:diagonal}]"], "dataset.augment[0].mode='diagonal' is invalid"),
    (["dataset.augment=[{name:crop,size:3}]"], "dataset.augment[0].size=3 is invalid: crop takes padding"),
    (["dataset=synthetic", "dataset.num_samples=0"], "dataset.num_samples=0 is invalid"),
    (["dataset=synthetic", "dataset.num_samples=100000000000"], "dataset.num_samples"),
    (["dataset=image_folder"], "dataset.path has no value and needs one"),
    (["dataset=image_folder", "dataset.path=/nonexistent/images"], "/nonexistent/images"),
    (["dataset=image_folder", "dataset.path=EMPTY_DIR"], "EMPTY_DIR"),
    (["stage.threshold=1.5"], "stage.threshold=1.5 is invalid"),
    (["=5"], "override '=5' has no key"),
    (["results_dir="], "results_dir='' is invalid"),
    (["data_dir="], "data_dir='' is invalid"),
    (["data_dir=FILE"], "data_dir=FILE is a file, not a folder"),
    (["results_dir=FILE"], "results_dir=FILE is a file, not a folder"),
    (["hydra.run.dir="], "hydra.run.dir='' is invalid"),
    (["hydra.run.dir=RUN"], "already holds files; a new run needs a new folder"),
    (["checkpoint=best"], "checkpoint='best' is invalid: names a checkpoint of an earlier run: add run="),
    (["checkpoint=epoch_1"], "checkpoint='epoch_1' is invalid"),
    (["trial.callback=os.system"], "trial.callback"),
    # ---- stages and the runs they act on
    (["stage=evaluate"], "stage=evaluate acts on a trained run: add run=<run folder> or run=latest"),
    (["stage=infer"], "stage=infer acts on a trained run"),
    (["stage=export"], "stage=export acts on a trained run"),
    (["stage=evaluate", "run=/nonexistent/run"], "run=/nonexistent/run: no such folder"),
    (["stage=evaluate", "run=FILE"], "run=FILE: no such folder"),
    (["stage=evaluate", "run=EMPTY_DIR"], "is not a run folder"),
    (["stage=evaluate", "run=latest", "model=cnn"], "run=latest: no run of model=cnn on dataset=digits"),
    (["stage=evaluate", "run=RUN", "checkpoint=epoch_99"], "checkpoint=epoch_99: not in "),
    (["stage=evaluate", "run=RUN", "checkpoint=final"], "checkpoint=final: not in "),
    (["stage=evaluate", "run=RUN", "checkpoint=../../x"], "checkpoint=../../x: not in "),
    (["stage=export", "run=RUN", "checkpoint=epoch_0"], "checkpoint=epoch_0: not in "),
    (["run=RUN", "trainer.epochs=5"], "cannot apply; branch a new run instead"),
    (["run=RUN", "checkpoint=epoch_9"], "checkpoint=epoch_9: not in "),
    (["run=RUN", "checkpoint=last", "trainer.epochs=2"], "nothing left to train; set trainer.epochs above 2"),
    (["run=RUN", "checkpoint=last", "trainer.epochs=4", "model=cnn"], "a branch keeps its parent's model"),
    (["run=RUN", "checkpoint=last", "trainer.epochs=4", "dataset=wine"], "a branch keeps its parent's dataset"),
    (["run=RUN", "checkpoint=last", "trainer.epochs=4", "optimizer.lr=-1"], "optimizer.lr=-1.0 is invalid"),
    # crafted run folders: read as data from someone else
    (["stage=evaluate", "run=CRAFTED:env"], "holds an interpolation"),
    (["stage=evaluate", "run=CRAFTED:resolver"], "holds an interpolation"),
    (["stage=export", "run=CRAFTED:resolver"], "holds an interpolation"),
    (["run=CRAFTED:resolver"], "holds an interpolation"),
    (["stage=evaluate", "run=CRAFTED:aliases"], "uses YAML aliases"),
    (["stage=evaluate", "run=CRAFTED:huge"], "is larger than 1 MB"),
    (["stage=evaluate", "run=CRAFTED:not_yaml"], "is unreadable"),
    (["stage=evaluate", "run=CRAFTED:foreign_code"], "model._target_='os.system' is not a registered model"),
    (["run=CRAFTED:choice_escape", "checkpoint=last", "trainer.epochs=4"], "is not a config option name"),
    (["stage=evaluate", "run=CRAFTED:checkpoints_link"], "is a symbolic link"),
    (["run=CRAFTED:checkpoints_link"], "is a symbolic link"),
    (["stage=evaluate", "run=CRAFTED:evaluate_link"], "is a symbolic link"),
    (["run=CRAFTED:history_link"], "is a symbolic link"),
    (["stage=evaluate", "run=CRAFTED:state_garbage"], "state.json is unreadable"),
    (["stage=evaluate", "run=CRAFTED:state_huge"], "state.json is larger than 1 MB"),
    (["run=CRAFTED:state_names_missing"], "names epoch 9 as the last checkpoint"),
    (["stage=evaluate", "run=CRAFTED:checkpoint_corrupt"], "cannot be loaded into MLP"),
    (["stage=infer", "run=CRAFTED:checkpoint_corrupt", f"input=[{N}]"], "cannot be loaded into MLP"),
    (["stage=evaluate", "run=CRAFTED:preprocessing_garbage"], "preprocessing.json is unreadable"),
    (["stage=evaluate", "run=CRAFTED:preprocessing_wrong"], "preprocessing.json"),
    (["stage=evaluate", "run=CRAFTED:absurd_size"], "model.hidden_units"),
    # ---- infer's input
    (["stage=infer", "run=RUN"], "stage=infer needs input="),
    (["stage=infer", "run=RUN", "input=[1,2,3]"], "input has shape [3]; the model takes elements of shape [8, 8, 1]"),
    (["stage=infer", "run=RUN", "input=abc"], "input='abc' is not a JSON list"),
    (["stage=infer", "run=RUN", "input=[[1,2],[3]]"], "input must hold numbers only"),
    (["stage=infer", "run=RUN", 'input=[["1","2","3"]]'], "input must hold numbers only"),  # numbers as JSON strings
    (["stage=infer", "run=RUN", "input=[]"], "input is empty"),
    (["stage=infer", "run=RUN", "input=nosuch.npy"], "input=nosuch.npy: no such file"),
    (["stage=infer", "run=RUN", "input=nosuch.csv"], "input=nosuch.csv: no such file"),
    (["stage=infer", "run=RUN", "input=nosuch.png"], "input=nosuch.png: no such file"),
    (["stage=infer", "run=RUN", "input=INPUT:empty.csv"], "is empty"),
    (["stage=infer", "run=RUN", "input=INPUT:words.csv"], "is neither JSON nor comma-separated numbers"),
    (["stage=infer", "run=RUN", "input=INPUT:strings.json"], "input must hold numbers only"),
    (["stage=infer", "run=RUN", "input=INPUT:deep.json"], "nests lists too deeply"),
    (["stage=infer", "run=RUN", "input=INPUT:broken.npy"], "is not a readable .npy file"),
    (["stage=infer", "run=RUN", "input=INPUT:pickled.npy"], "is not a readable .npy file"),
    (["stage=infer", "run=RUN", "input=INPUT:broken.png"], "is not a readable image"),
    (["stage=infer", "run=RUN", "input=INPUT:nan.json"], "input holds NaN or infinite values"),
    (["stage=infer", "run=RUN", "input=INPUT:inf.csv"], "input holds NaN or infinite values"),
    (["stage=infer", "run=RUN", "input=INPUT:binary.json"], "is not a readable .json file"),
    (["stage=infer", "run=RUN", "input=-"], "input=- (stdin) is empty"),
    (["stage=infer", "run=RUN", "input=-", "STDIN:" + "[" * 100_000], "nests lists too deeply"),
    (["stage=infer", "run=RUN", "input=-", "STDIN:1,2,x\n"], "is neither JSON nor comma-separated numbers"),
    (["stage=infer", "run=RUN", "input=-", "STDIN:[1, 2]"], "input has shape [2]"),
    # ---- sweeps
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=abc"], "hydra.sweeper.n_trials='abc' is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0 is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs=0 is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.direction=up"], "hydra.sweeper.direction='up' is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.max_failure_rate=2"], "hydra.sweeper.max_failure_rate=2"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.timeout=-1"], "hydra.sweeper.timeout=-1 is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.threads_per_trial=0"],
     "hydra.sweeper.threads_per_trial=0 is invalid: auto, an integer >= 1"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.plots=maybe"], "hydra.sweeper.plots='maybe' is invalid"),
    # every value a sweep would search is checked before the study exists (issue #25)
    (["-m", "hydra/sweeper=optuna", "model.dropout=choice(0.1, 2.0)"],
     "model.dropout=2.0 is invalid: must be in [0, 1) (a value the sweep would search; nothing was started)"),
    (["-m", "hydra/sweeper=optuna", "model.dropout=interval(0.0, 1.5)"], "model.dropout=1.5 is invalid"),
    (["-m", "hydra/sweeper=optuna", "trainer.batch_size=range(0, 64, 32)"], "trainer.batch_size=0 is invalid"),
    (["-m", "hydra/sweeper=optuna", "optimizer.lr=choice(0.1, abc)"], "optimizer.lr='abc' is invalid"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.storage=foo://bar"],
     "hydra.sweeper.storage='foo://bar' cannot be opened: Can't load plugin"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.custom_search_space=nosuch.func"],
     "hydra.sweeper.custom_search_space='nosuch.func' cannot be found"),
    (["-m", "hydra/sweeper=optuna", "hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler.seed='abc'"),
    (["-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=nosuch"], "hydra/sweeper/sampler=nosuch: no such option"),
    (["-m", "hydra/sweeper=optuna", "hydra/sweeper/pruner=nosuch"], "hydra/sweeper/pruner=nosuch: no such option"),
    (["-m", "hydra/sweeper=optuna", "model.dropout=interval(0.5,0.1)"], "model.dropout"),
    (["-m", "hydra/sweeper=optuna", "optimizer.lr=tag(log,interval(0,1))"], "optimizer.lr"),
    (["-m", "hydra/sweeper=optuna", "model.dropout=choice()"], "model.dropout"),
    (["-m", "--cfg", "job"], "error: Only one of --run, --multirun, --cfg, --info and --shell_completion can be "
                             "specified: -m runs a sweep, --cfg only prints the config"),
    (["-m", "hydra.sweep.dir="], "hydra.sweep.dir='' is invalid"),
    (["-m", "hpsearch=mlp", "hydra.sweeper.n_trials=-1"], "hydra.sweeper.n_trials=-1 is invalid"),
    # datasets of TensorFlow Datasets and Hugging Face, offline (issue #23): builders TFDS registers, none prepared
    (["dataset=tfds"], "dataset.name has no value and needs one: add dataset.name=... to the command line"),
    (["dataset=tfds", "dataset.name=mnsit", "dataset.tfds_dir=EMPTY_DIR"],
     "dataset.name=mnsit: TensorFlow Datasets has no builder mnsit and none is prepared in EMPTY_DIR "
     "(dataset.tfds_dir); did you mean mnist, kmnist, emnist?"),
    (["dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR"],
     "TFDS dataset mnist is not prepared in EMPTY_DIR: run `python -m data.prepare tfds name=mnist "
     "tfds_dir=EMPTY_DIR` (TFDS downloads and prepares it)"),
    (["dataset=tfds", "dataset.name=mnist:9.9.9", "dataset.tfds_dir=EMPTY_DIR"],
     "dataset.name=mnist:9.9.9 (in EMPTY_DIR): "),
    (["dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR", "dataset.feature=pixels"],
     "dataset.feature: TFDS dataset mnist has no feature pixels; it has image (Image), label (ClassLabel)"),
    (["dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR", "dataset.label=digit"],
     "dataset.label=digit: TFDS dataset mnist has no such feature; it has image (Image), label (ClassLabel)"),
    (["dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR", "dataset.splits.val=dev"],
     "dataset.splits.val=dev: TFDS dataset mnist has no split dev; it has train, test"),
    (["dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR", "dataset.num_classes=7"],
     "dataset.num_classes=7 is invalid: TFDS dataset mnist gives 10 (its label label has 10 classes); leave it out"),
    (["dataset=tfds", "dataset.name=mnist", "dataset.image_size=[0,8]"], "dataset.image_size=[0, 8] is invalid"),
    (["dataset=tfds", "dataset.name=ucf101", "dataset.tfds_dir=EMPTY_DIR"],
     "feature video of TFDS dataset ucf101 is a Video, which this project cannot read (supported: fixed-size "
     "images, text, numeric tensors (fixed or of any length), class labels), and it has no other input feature"),
    (["dataset=tfds", "dataset.name=imagenet2012", "dataset.tfds_dir=EMPTY_DIR"],
     "feature image of TFDS dataset imagenet2012 holds images of varying sizes (shape [null, null, 3]): set "
     "dataset.image_size=[height,width] to resize them when prepared"),
    (["dataset=tfds", "dataset.name=imagenet2012", "dataset.tfds_dir=EMPTY_DIR", "dataset.image_size=[16,16]"],
     "TFDS dataset imagenet2012 is not prepared in EMPTY_DIR: run `python -m data.prepare tfds name=imagenet2012 "
     "tfds_dir=EMPTY_DIR` (TFDS downloads and prepares it); it needs files placed by hand in "
     "EMPTY_DIR/downloads/manual (dataset.manual_dir): "),
    (["dataset=huggingface", "dataset.name=nobody/no_such_dataset"],
     "dataset.name=nobody/no_such_dataset: not a folder of save_to_disk, not data files here, and not in the local "
     "Hugging Face cache"),
    (["dataset=huggingface", "dataset.name=nobody/no_such_dataset"],
     "; if it is a hub dataset, download it first: `python -m data.prepare huggingface name=nobody/no_such_dataset` "
     "(where the hub can be reached)"),
    (["dataset=huggingface", "dataset.name=FILE"], "dataset.name=FILE: a data file must be one of "),
    (["dataset=huggingface", "dataset.name=EMPTY_DIR"], "dataset.name=EMPTY_DIR"),
    (["-m", "hydra/sweeper=optuna", "dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR",
      "dataset.val_fraction=choice(0.1, 2.0)"], "dataset.val_fraction=2.0 is invalid: "),
    (["-m", "hydra/sweeper=optuna", "dataset=tfds", "dataset.name=mnist", "dataset.tfds_dir=EMPTY_DIR",
      "dataset.image_size=choice([8,8], [0,8])"], "dataset.image_size=[0, 8] is invalid: "),
]


def _stand_ins(text: str, fixture: dict) -> str:
    for name in ("RUN", "FILE", "EMPTY_DIR"):
        text = text.replace(name, str(fixture[name])) if name in text and "CRAFTED" not in text else text
    return text


@pytest.fixture(scope="module")
def place(tmp_path_factory, digits_data):
    """A working folder with prepared digits and one finished run, plus the stand-ins cases name."""
    work = tmp_path_factory.mktemp("bad_inputs")
    shutil.copytree(digits_data, work / "data")
    result = run_main(work, "trainer.epochs=2", "model.hidden_units=[16]", "trainer.keep_checkpoints=null")
    assert result.returncode == 0, result.stderr
    [run] = (work / "results" / "mlp" / "digits").iterdir()
    (work / "a_file").write_text("x")
    (work / "empty_dir").mkdir()
    inputs = work / "inputs"
    inputs.mkdir()
    (inputs / "empty.csv").write_text("\n\n")
    (inputs / "words.csv").write_text("a,b\nc,d\n")
    (inputs / "strings.json").write_text(json.dumps([["a"] * 64]))
    (inputs / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (inputs / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    (inputs / "pickled.npy").write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                                         b"'shape': (1,), }" + b" " * 60 + b"\n" + b"\x80\x04N.")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    (inputs / "nan.json").write_text("[" + ",".join(["NaN"] * 64) + "]")
    (inputs / "inf.csv").write_text(",".join(["inf"] * 64) + "\n")
    (inputs / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    return {"work": work, "RUN": run, "FILE": work / "a_file", "EMPTY_DIR": work / "empty_dir", "INPUTS": inputs}


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not
            p.is_symlink() else "link" if p.is_symlink() else "dir" for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(args)[:60] for args, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(place, tmp_path, args, expected):
    work = place["work"]
    stdin, argv = None, []
    outside = tmp_path / "outside"  # where crafted links lead: nothing may be written there
    outside.mkdir()
    for arg in args:
        if arg.startswith("STDIN:"):
            stdin = arg[len("STDIN:"):]
            continue
        if "CRAFTED:" in arg:
            key, name = arg.split("=CRAFTED:")
            crafted = tmp_path / "crafted" / name
            shutil.copytree(place["RUN"], crafted, symlinks=True)
            CRAFT[name](crafted, outside)
            arg = f"{key}={crafted}"
        if "INPUT:" in arg:
            arg = arg.replace("INPUT:", f"{place['INPUTS']}/")
        argv.append(_stand_ins(arg, place))
    expected = _stand_ins(expected, place)
    before = fingerprint(work), fingerprint(tmp_path)
    result = run_main(work, *argv, stdin=stdin, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
    assert expected in lines[0], lines[0]
    assert (fingerprint(work), fingerprint(tmp_path)) == before  # nothing left behind, nothing touched
    assert not list(outside.rglob("*"))


def test_the_catalogue_has_at_least_150_cases():
    from tests.test_prepare_and_promote_errors import PREPARE_CASES, PROMOTE_CASES

    assert len(CASES) + len(PREPARE_CASES) + len(PROMOTE_CASES) >= 150
