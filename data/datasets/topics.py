"""Short texts about a topic, each with one opinion: an embedded text classification dataset, generated
from a seed, that needs no download.

Four classes: {sport, science} x {positive, negative}. A text mixes its topic's words (and a few of the
other topic's), common filler words and exactly one opinion, an adjective that may be negated by the word
just before it ("not exciting" is negative). Half the texts also hold a "not" elsewhere, so the opinion is
only read from the order of the words: a bag of words sees the topic but guesses the opinion (a linear model
of word counts cannot tell "not" before the adjective from "not" elsewhere), a sequence model reads both.
`noise` is the fraction of texts whose opinion label is flipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conf.schema import DatasetConfig, require
from data.sources import Source, from_arrays

TOPICS = {
    "sport": ("match team goal coach season player league striker referee stadium penalty keeper trophy final "
              "tournament race runner sprint medal club fans pitch tackle winger derby").split(),
    "science": ("experiment theory data lab atom cell physics molecule telescope galaxy enzyme protein genome "
                "quantum particle orbit reaction sample hypothesis microscope neuron climate fossil laser").split(),
}
OPINIONS = {
    "positive": "exciting brilliant great superb wonderful clever impressive elegant thrilling solid".split(),
    "negative": "boring dull poor awful sloppy weak tedious messy disappointing clumsy".split(),
}
FILLER = ("the a this that it was is very quite really and but with of in on for about to from we they "
          "after before during today yesterday report story week new old first last").split()
CLASS_NAMES = tuple(f"{topic}_{opinion}" for topic in TOPICS for opinion in OPINIONS)


@dataclass
class TopicsConfig(DatasetConfig):
    num_samples: int = 4000
    min_words: int = 8
    max_words: int = 40
    noise: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(40 <= self.num_samples <= 10_000_000, "dataset.num_samples", self.num_samples,
                "must be in [40, 10000000]")
        require(4 <= self.min_words <= self.max_words <= 10_000, "dataset.min_words", self.min_words,
                "4 <= dataset.min_words <= dataset.max_words <= 10000")
        require(0 <= self.noise < 0.5, "dataset.noise", self.noise, "must be in [0, 0.5)")


def generate(cfg) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    topics, opinions = list(TOPICS), list(OPINIONS)
    texts, labels = np.empty(cfg.num_samples, dtype=object), np.empty(cfg.num_samples, dtype="int64")
    for index in range(cfg.num_samples):
        topic, positive, negated = rng.integers(2), rng.integers(2) == 1, rng.random() < 0.5
        count = int(rng.integers(cfg.min_words, cfg.max_words + 1))
        kinds = rng.choice(3, size=count, p=[0.45, 0.1, 0.45])  # own topic, other topic, filler
        words = [_pick(rng, TOPICS[topics[topic if kind == 0 else 1 - topic]]) if kind < 2
                 else _pick(rng, FILLER) for kind in kinds]
        if rng.random() < 0.5:  # a "not" that negates nothing
            words.insert(int(rng.integers(len(words) + 1)), "not")
        shown_positive = positive != negated
        adjective = _pick(rng, OPINIONS["positive" if shown_positive else "negative"])
        at = int(rng.integers(len(words) + 1))
        opinion = ["not", adjective] if negated else [adjective]
        if not negated and at > 0 and words[at - 1] == "not":
            words[at - 1] = "the"  # no accidental negation
        words[at:at] = opinion
        labels[index] = 2 * topic + (0 if positive != (rng.random() < cfg.noise) else 1)
        texts[index] = " ".join(words).capitalize() + "."
    return texts, labels


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def load_topics(cfg, files):
    texts, labels = generate(cfg)
    return {"all": from_arrays(texts, labels)}


SOURCE = Source(load_topics, schema=TopicsConfig, parametric=True, class_names=CLASS_NAMES,
                size_of=lambda cfg: (cfg.num_samples, 8 * cfg.max_words + 32))
