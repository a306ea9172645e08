"""Sequence models against a bag of words on the embedded `topics` texts.

    python benchmarks/text_models.py [--seeds 1,2,3] [--epochs 20] [--num-samples 4000]

`python main.py model=rnn dataset=topics seed=<s>` and `model=transformer` for each seed (test accuracy of the
best checkpoint), against scikit-learn's logistic regression on word counts (the same lowercasing, the same
punctuation stripped, words split on white space, the vocabulary of the train split; `C` picked on the
validation split from 0.01 to 100) on the same train/val/test split. The topic is in the words, the
opinion in their order (a "not" just before the adjective): a bag of words reads the first, guesses the second.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from scratch import add_folder_arguments, run_in_scratch

ROOT = Path(__file__).resolve().parents[1]


def run_main(work: Path, *args: str) -> Path:
    subprocess.run([sys.executable, str(ROOT / "main.py"), *args, f"data_dir={work / 'data'}",
                    f"results_dir={work / 'results'}"], cwd=work, capture_output=True, text=True, check=True)
    return max((work / "results").glob("*/*/*/metrics.json"), key=lambda p: p.stat().st_mtime).parent


def bag_of_words(folder: Path) -> tuple[float, float]:
    """Test accuracy of the best logistic regression on word counts, and its C."""
    sys.path.insert(0, str(ROOT))
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    from data.prepare import load_split
    from data.text import PUNCTUATION

    splits = {split: load_split(folder, split) for split in ("train", "val", "test")}
    vectorizer = CountVectorizer(preprocessor=lambda text: re.sub(PUNCTUATION, "", text.lower()),
                                 tokenizer=str.split, token_pattern=None)
    train = vectorizer.fit_transform(splits["train"][0])
    best = max(((LogisticRegression(C=c, max_iter=5000).fit(train, splits["train"][1]), c)
                for c in (0.01, 0.1, 1.0, 10.0, 100.0)),
               key=lambda fitted: fitted[0].score(vectorizer.transform(splits["val"][0]), splits["val"][1]))
    return best[0].score(vectorizer.transform(splits["test"][0]), splits["test"][1]), best[1]


def compare(args: argparse.Namespace, work: Path) -> None:
    dataset = ["dataset=topics", f"dataset.num_samples={args.num_samples}", f"trainer.epochs={args.epochs}"]
    accuracies: dict[str, list[float]] = {"rnn": [], "transformer": []}
    for seed in args.seeds:
        for model in accuracies:
            run = run_main(work, f"model={model}", *dataset, f"seed={seed}")
            accuracies[model].append(json.loads((run / "metrics.json").read_text())["test"]["accuracy"])
            print(f"seed {seed}: {model} test accuracy {accuracies[model][-1]:.4f}", flush=True)
    [folder] = (work / "data").glob("topics-*")
    bow, c = bag_of_words(folder)
    print(f"\ntopics, {args.num_samples} texts, {args.epochs} epochs; test accuracy, median over seeds "
          f"{', '.join(map(str, args.seeds))}:")
    for model, values in accuracies.items():
        print(f"  {model:12s} {statistics.median(values):.4f}  ({', '.join(f'{v:.4f}' for v in values)})")
    print(f"  bag of words + logistic regression (C={c}): {bow:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=lambda text: [int(s) for s in text.split(",")], default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--num-samples", type=int, default=4000)
    add_folder_arguments(parser)
    run_in_scratch(parser.parse_args(), "text-models", compare)


if __name__ == "__main__":
    main()
