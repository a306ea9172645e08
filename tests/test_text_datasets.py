"""Text datasets a researcher brings: a folder of .txt files per class, a .csv or .jsonl file of texts and
labels; the vocabulary fitted on the train split alone, and files that are not UTF-8 named with their byte."""

from __future__ import annotations

import json

import pytest

from conf.errors import UserError
from data.prepare import load_split, main, prepare_dataset, prepared_dir
from tests.conftest import compose_config


def text_folder(root, given_splits: bool = False):
    """Reviews in `<root>/<class>/*.txt` (or `<root>/{train,test}/<class>/`): "superb" only in test/."""
    parts = {"train": 10, "test": 3} if given_splits else {"": 12}
    for part, count in parts.items():
        for label, word in (("neg", "dull"), ("pos", "great")):
            folder = root / part / label
            folder.mkdir(parents=True)
            for index in range(count):
                extra = " superb" if part == "test" else ""
                (folder / f"{index}.txt").write_text(f"A {word} film, take {index}.{extra}\n", encoding="utf-8")


def config(name: str, *overrides: str):
    return compose_config("model=rnn", f"dataset={name}", *overrides).dataset


def test_a_text_folder_with_its_own_splits_fits_the_vocabulary_on_train_only(tmp_path):
    text_folder(tmp_path / "reviews", given_splits=True)
    cfg = config("text_folder", f"dataset.path={tmp_path / 'reviews'}", "dataset.test_fraction=null",
                 "dataset.tokenizer.vocabulary_size=50")
    folder = prepare_dataset(cfg, tmp_path / "data")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["class_names"] == ["neg", "pos"]
    assert {split: entry["count"] for split, entry in manifest["splits"].items()} == {"train": 16, "val": 4,
                                                                                      "test": 6}
    vocabulary = manifest["stats"]["tokenizer"]["vocabulary"]
    assert {"a", "film", "take", "dull", "great"} <= set(vocabulary) and "superb" not in vocabulary
    assert manifest["splits"]["test"]["lengths"]["max"] == 6  # a, great, film, take, <index>, superb
    texts, labels = load_split(folder, "test")
    assert sorted(zip(labels.tolist(), texts))[0] == (0, "A dull film, take 0. superb\n")


def test_a_text_folder_file_that_is_not_utf8_is_named_with_its_byte(tmp_path):
    text_folder(tmp_path / "reviews")
    bad = tmp_path / "reviews" / "pos" / "5.txt"
    bad.write_bytes("Un film très réussi".encode("latin-1"))
    cfg = config("text_folder", f"dataset.path={tmp_path / 'reviews'}")
    with pytest.raises(UserError) as error:
        prepare_dataset(cfg, tmp_path / "data")
    assert str(error.value) == (f"{bad} is not UTF-8 text: byte 10 (0xe8) cannot be decoded; convert it (e.g. "
                                "iconv -t utf-8)")
    assert not (tmp_path / "data").exists()  # nothing left behind


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_text_file_of_texts_and_class_names_prepares(tmp_path, suffix):
    rows = [{"review": f"A {'great' if i % 2 else 'dull'}, film\n number {i}", "sentiment": "pos" if i % 2
             else "neg"} for i in range(40)]
    path = tmp_path / f"reviews{suffix}"
    if suffix == ".csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["review", "sentiment"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    cfg = config("text_file", f"dataset.path={path}", "dataset.text_column=review", "dataset.label_column=sentiment")
    folder = prepare_dataset(cfg, tmp_path / "data")
    assert folder == prepared_dir(cfg, tmp_path / "data")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["class_names"] == ["neg", "pos"] and sum(e["count"] for e in manifest["splits"].values()) == 40
    texts, labels = load_split(folder, "train")
    for text, label in zip(texts, labels):  # commas and line breaks inside a text survive
        assert ("great" in text) == (label == 1) and "\n number " in text


def test_text_file_mistakes_are_one_line(tmp_path, capsys):
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("body,label\nfine,pos\n", encoding="utf-8")
    code = main(["text_file", f"path={csv_file}", "--data-dir", str(tmp_path / "data")])
    assert code == 2 and capsys.readouterr().err.strip() == (
        f"error: {csv_file} has no column 'text' (its header: body, label); set dataset.text_column and "
        "dataset.label_column")
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text('{"text": "fine", "label": "pos"}\n{"text": 3, "label": "neg"}\n', encoding="utf-8")
    assert main(["text_file", f"path={jsonl}", "--data-dir", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {jsonl}, line 2: 'text' is not a string"
    assert main(["text_file", f"path={tmp_path / 'reviews.txt'}", "--data-dir", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: dataset.path='{tmp_path / 'reviews.txt'}' is invalid: a .csv or .jsonl file")
    assert not (tmp_path / "data").exists()
