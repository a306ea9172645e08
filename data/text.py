"""Text as token ids: a tokenizer given as configuration, fitted on the train split, the same TensorFlow ops
in the input pipeline, in `infer` and inside the exported SavedModel.

`dataset.tokenizer = {kind, vocabulary_size, lowercase, strip_punctuation}`: `words` splits on white space,
`characters` into Unicode characters, `wordpiece` splits each word into sub-word pieces (`data.wordpiece`), so
a word never seen in training is still read from its parts; `lowercase` and `strip_punctuation` (the ASCII
punctuation Keras' `TextVectorization` strips) are applied first. The vocabulary follows `TextVectorization`'s
convention: id 0 is padding (`""`, the value a batch is padded with, which models mask), id 1 is every token
outside the vocabulary (`[UNK]`), then the train split's most frequent tokens, ties broken by the token itself
(for `wordpiece`: its characters, then merged pieces), so a vocabulary is a pure function of the train split.
It is kept in the prepared folder's manifest and in each run's preprocessing record.

Only TensorFlow's own stateless string and search ops are used (see `Tokenizer`): a SavedModel that tokenizes
inside is served by TensorFlow alone.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import numpy as np

PADDING, UNKNOWN = "", "[UNK]"
PUNCTUATION = r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']'  # TextVectorization's strip_punctuation
MAX_TOKEN_CHARS = 1000  # a vocabulary entry longer than this is not a token a tokenizer made


def tokenizer_spec(config: Any) -> dict[str, Any]:
    """`dataset.tokenizer` with its defaults filled in (what the manifest and the run record keep)."""
    from omegaconf import OmegaConf

    spec = OmegaConf.to_container(config) if OmegaConf.is_config(config) else dict(config)
    return {"kind": spec["kind"], "vocabulary_size": int(spec.get("vocabulary_size", 20000)),
            "lowercase": bool(spec.get("lowercase", True)),
            "strip_punctuation": bool(spec.get("strip_punctuation", True))}


def split_tokens(texts, spec: dict[str, Any]):
    """A batch of strings (tf.string, shape [batch]) -> its tokens, a RaggedTensor [batch, None] of strings
    (the words a `wordpiece` tokenizer then splits)."""
    import tensorflow as tf

    if spec["lowercase"]:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if spec["strip_punctuation"]:
        texts = tf.strings.regex_replace(texts, PUNCTUATION, "")
    if spec["kind"] == "characters":
        return tf.strings.unicode_split(texts, "UTF-8")
    return tf.strings.split(texts)


def fitted_vocabulary(counts: Counter, size: int) -> list[str]:
    """Padding, unknown, then the `size - 2` most frequent tokens (ties: in order of the token)."""
    counts = Counter({token: n for token, n in counts.items() if token not in (PADDING, UNKNOWN)})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size - 2]
    return [PADDING, UNKNOWN, *(token for token, _ in ranked)]


class TokenCounter:
    """Counts the tokens (words, for `wordpiece`) of chunks of texts: the train split, streamed while it is
    written."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec, self.counts = spec, Counter()

    def add(self, texts: Iterable[str]) -> None:
        tokens = split_tokens(_as_tensor(texts), self.spec)
        self.counts.update(token.decode("utf-8", "replace") for token in tokens.flat_values.numpy())

    def vocabulary(self) -> list[str]:
        if self.spec["kind"] == "wordpiece":
            from data.wordpiece import learn_vocabulary

            counts = Counter({token: n for token, n in self.counts.items() if token not in (PADDING, UNKNOWN)})
            pieces = learn_vocabulary(counts, self.spec["vocabulary_size"] - 2)
            return [PADDING, UNKNOWN, *(piece for piece in pieces if piece not in (PADDING, UNKNOWN))]
        return fitted_vocabulary(self.counts, self.spec["vocabulary_size"])


def _as_tensor(texts: Iterable[str]):
    import tensorflow as tf

    return tf.constant([text.encode("utf-8") if isinstance(text, str) else bytes(text) for text in texts],
                       dtype=tf.string)


HASH_KEY = [0x7EC5, 0x0CAB]  # SipHash key of token fingerprints: fixed, so ids never depend on the process
HASH_BUCKETS = 2**63 - 1


class Tokenizer:
    """Strings -> token ids (int32, ragged) with the run's vocabulary.

    Tokens are found by their 63-bit SipHash fingerprint in the vocabulary's sorted fingerprints
    (`searchsorted`), not in a hash table: a table lookup is a stateful op, which tf.data runs one batch at a
    time under op determinism (`trainer.deterministic`, the default), and a SavedModel must track it as a
    resource. These are plain stateless ops, parallel in tf.data and constants in a SavedModel. A token outside
    the vocabulary shares a fingerprint with one inside with probability about 2e-8 for 20,000 words and ten
    million distinct tokens; two tokens of one vocabulary with the same fingerprint are refused.
    """

    def __init__(self, record: dict[str, Any]) -> None:
        import tensorflow as tf

        from conf.errors import UserError

        self.spec = {key: record[key] for key in ("kind", "vocabulary_size", "lowercase", "strip_punctuation")}
        vocabulary = list(record["vocabulary"])
        self.size = len(vocabulary)
        if self.spec["kind"] == "wordpiece":
            from data.wordpiece import MAX_PIECE_CHARS, longest_piece

            self.longest = longest_piece(vocabulary[2:])
            if self.longest > MAX_PIECE_CHARS + len("##"):
                raise UserError(f"a wordpiece vocabulary holds a piece of {self.longest} characters; its pieces have "
                                f"at most {MAX_PIECE_CHARS}: fit it again")
        fingerprints = tf.strings.to_hash_bucket_strong(tf.constant(vocabulary[2:], tf.string), HASH_BUCKETS,
                                                        HASH_KEY).numpy()
        order = np.argsort(fingerprints, kind="stable")
        if len(np.unique(fingerprints)) != len(fingerprints):
            raise UserError("two tokens of the vocabulary share a fingerprint; fit it again with another "
                            "vocabulary_size")
        self.fingerprints = fingerprints[order]
        self.ids = (order + 2).astype("int32")

    def lookup(self, tokens, missing: int = 1):
        """Token strings (any shape) -> their ids, `missing` (1, the unknown id) for one outside the vocabulary."""
        import tensorflow as tf

        if not len(self.ids):
            return tf.fill(tf.shape(tokens), missing)
        fingerprints = tf.strings.to_hash_bucket_strong(tokens, HASH_BUCKETS, HASH_KEY)
        flat = tf.reshape(fingerprints, [-1])
        known = tf.constant(self.fingerprints)
        at = tf.minimum(tf.searchsorted(known, flat), len(self.ids) - 1)
        ids = tf.where(tf.gather(known, at) == flat, tf.gather(tf.constant(self.ids), at), missing)
        return tf.reshape(ids, tf.shape(tokens))

    def __call__(self, texts):
        """A batch of strings -> their token ids, a RaggedTensor [batch, None] of int32."""
        import tensorflow as tf

        tokens = split_tokens(texts, self.spec)
        if self.spec["kind"] != "wordpiece":
            return tf.ragged.map_flat_values(self.lookup, tokens)
        from data.wordpiece import split_ids

        pieces = split_ids(tokens.flat_values, lambda strings: self.lookup(strings, missing=-1), self.longest, 1)
        # text i's pieces: those of its words, which run from word row_splits[i] to row_splits[i + 1]
        return tf.RaggedTensor.from_row_splits(pieces.values, tf.gather(pieces.row_splits, tokens.row_splits),
                                               validate=False)  # made consistent: asserts would be stateful ops


def decoded(raw: bytes, where: str) -> str:
    """UTF-8 bytes as text, or a UserError naming `where` and the first byte that is not UTF-8."""
    from conf.errors import UserError

    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{where} is not UTF-8 text: byte {error.start} ({raw[error.start]:#04x}) cannot be "
                        "decoded; convert it (e.g. iconv -t utf-8)") from None


def check_vocabulary(vocabulary: Any, where: str) -> list[str]:
    """A vocabulary read from a run record or manifest, checked as untrusted data."""
    from conf.errors import UserError
    from conf.schema import MAX_VOCABULARY

    if not (isinstance(vocabulary, list) and 3 <= len(vocabulary) <= MAX_VOCABULARY and vocabulary[:2] == [
            PADDING, UNKNOWN] and all(isinstance(t, str) and 0 < len(t) <= MAX_TOKEN_CHARS for t in vocabulary[2:])
            and len(set(vocabulary)) == len(vocabulary)):
        raise UserError(f"{where}: vocabulary must be a list of distinct tokens starting with {PADDING!r} (padding) "
                        f"and {UNKNOWN!r}, at most {MAX_VOCABULARY}")
    return vocabulary
