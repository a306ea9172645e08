"""WordPiece sub-words (`dataset.tokenizer.kind=wordpiece`): the vocabulary learnt from word counts, and the
TensorFlow split checked against a plain-Python greedy longest-match on random words and vocabularies."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from data.wordpiece import CONTINUATION, MAX_WORD_CHARS, learn_vocabulary

SPEC = {"kind": "wordpiece", "vocabulary_size": 40, "lowercase": True, "strip_punctuation": True}


def reference_split(word: str, vocabulary: list[str]) -> list[str]:
    """BERT's greedy longest-match-first, one word at a time, as its paper describes it."""
    if len(word) > MAX_WORD_CHARS:
        return ["[UNK]"]
    known, pieces, start = set(vocabulary), [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
            if piece in known:
                pieces.append(piece)
                start = end
                break
        else:
            return ["[UNK]"]
    return pieces


def tokenizer(vocabulary: list[str], **spec):
    from data.text import Tokenizer

    return Tokenizer({**SPEC, **spec, "vocabulary": ["", "[UNK]", *vocabulary]})


def test_the_vocabulary_is_characters_then_the_most_frequent_merges():
    counts = Counter({"low": 5, "lower": 2, "newest": 6, "widest": 3})
    vocabulary = learn_vocabulary(counts, 30)
    characters = {piece for piece in vocabulary if len(piece.removeprefix(CONTINUATION)) == 1}
    assert characters == {"l", "n", "w", "##o", "##w", "##e", "##r", "##s", "##t", "##i", "##d"}
    assert vocabulary[:len(characters)] == sorted(characters, key=lambda p: (-sum(
        n for word, n in counts.items() for q in [word[0], *("##" + c for c in word[1:])] if q == p), p))
    assert vocabulary[len(characters)] == "##es"  # 6 + 3: the most frequent pair
    assert "newest" in vocabulary and "low" in vocabulary  # whole frequent words end as one piece
    assert learn_vocabulary(Counter(dict(reversed(counts.items()))), 30) == vocabulary  # not the order seen
    assert learn_vocabulary(counts, 5) == vocabulary[:5]  # a smaller size: the same, cut
    assert len(learn_vocabulary(counts, 1000)) < 1000  # no pair seen once is merged: it would memorise a word


def test_a_word_never_seen_is_split_into_known_pieces():
    import tensorflow as tf

    counts = Counter({"playing": 9, "played": 7, "player": 5, "replay": 4, "unhappy": 3, "happy": 6})
    vocabulary = learn_vocabulary(counts, 38)
    ids = tokenizer(vocabulary)(tf.constant(["Replaying, happily!", "", "qqq happy"]))
    words = [["", "[UNK]", *vocabulary][i] for i in ids.to_list()[0]]
    assert "".join(piece.removeprefix(CONTINUATION) for piece in words) == "replayinghappily"
    assert words == reference_split("replaying", vocabulary) + reference_split("happily", vocabulary)
    assert ids.to_list()[1] == []
    assert ids.to_list()[2][0] == 1  # q was never seen: the whole word is unknown


def test_the_tensorflow_split_is_the_greedy_longest_match():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    alphabet = list("abcdeé")
    for trial in range(6):
        vocabulary = sorted({"".join(rng.choice(alphabet, rng.integers(1, 5))) for _ in range(25)})
        vocabulary = [p if rng.random() < 0.5 else CONTINUATION + p for p in vocabulary]
        words = ["".join(rng.choice(alphabet, rng.integers(1, 9))) for _ in range(40)] + ["a" * (MAX_WORD_CHARS + 1)]
        split = tokenizer(vocabulary, lowercase=False)(tf.constant([" ".join(words)])).to_list()[0]
        table = ["", "[UNK]", *vocabulary]
        assert [table[i] for i in split] == [p for word in words for p in reference_split(word, vocabulary)], trial


def test_wordpiece_is_stateless_and_runs_in_a_parallel_pipeline():
    import tensorflow as tf

    split = tokenizer(learn_vocabulary(Counter({"running": 4, "runner": 3, "sunny": 2}), 30))
    graph = tf.function(split).get_concrete_function(tf.TensorSpec([None], tf.string)).graph
    assert [op.type for op in graph.get_operations() if op._is_stateful] == []
    texts = tf.data.Dataset.from_tensor_slices(["running sunny", "runner", "sun"] * 4).batch(3)
    batches = [b.to_list() for b in texts.map(split, num_parallel_calls=4, deterministic=True)]
    assert batches == [split(tf.constant(["running sunny", "runner", "sun"])).to_list()] * 4


@pytest.mark.parametrize("piece", ["x" * 30, "##" + "y" * 25])
def test_a_vocabulary_with_a_piece_no_learner_makes_is_refused(piece):
    from conf.errors import UserError

    with pytest.raises(UserError, match=r"a wordpiece vocabulary holds a piece of (30|27) characters"):
        tokenizer(["a", piece])
