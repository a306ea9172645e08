"""WordPiece sub-word tokens: a vocabulary learnt from the train split's word counts, and the greedy
longest-match-first split (BERT's) written with TensorFlow's stateless string ops only.

Why our own and not keras-hub's `WordPieceTokenizer`: that layer runs tensorflow-text's custom ops, so a
SavedModel that tokenizes inside would need `import tensorflow_text` to load, and `export`'s promise is that
TensorFlow alone serves it. These ops are core TensorFlow (`unicode_split`, `strings.join`, SipHash
fingerprints, `searchsorted`, a `while_loop`), so the exported model still needs nothing else.

Learning: every word starts as its characters, the first as itself and the others marked as continuations
(`##x`); the most frequent adjacent pair of pieces is merged, counted over the words weighted by their counts,
until the vocabulary is full or no pair is seen twice (the way Hugging Face's `WordPieceTrainer` learns, by
byte-pair merges; ties go to the pair that sorts first, so a vocabulary is a pure function of the counts).
Characters come first, the most frequent first, so every word made of known characters has a split.

Splitting a word: the longest vocabulary piece at its start, then the longest `##` piece where that one ends,
and so on; a word with a position no piece matches, or longer than `MAX_WORD_CHARS`, is one `[UNK]`.
"""

from __future__ import annotations

import heapq
from collections import Counter

CONTINUATION = "##"
MAX_WORD_CHARS = 100  # BERT's max_input_chars_per_word: a longer "word" (a URL, a run of symbols) is unknown
MAX_PIECE_CHARS = 24  # no merge makes a longer piece: it bounds the string ops a split unrolls


def learn_vocabulary(word_counts: Counter, size: int) -> list[str]:
    """At most `size` pieces (characters, then merges), most useful first."""
    words = [(word, count) for word, count in word_counts.items() if 0 < len(word) <= MAX_WORD_CHARS]
    symbols: Counter = Counter()
    for word, count in words:
        for piece in _characters(word):
            symbols[piece] += count
    vocabulary = [piece for piece, _ in sorted(symbols.items(), key=lambda item: (-item[1], item[0]))[:size]]
    known = set(vocabulary)
    pieces = [_characters(word) for word, _ in words]
    counts = [count for _, count in words]
    learnable = [i for i, split in enumerate(pieces) if known.issuperset(split)]

    pairs: Counter = Counter()
    holders: dict[tuple[str, str], set[int]] = {}
    for i in learnable:
        for pair in zip(pieces[i], pieces[i][1:], strict=False):
            pairs[pair] += counts[i]
            holders.setdefault(pair, set()).add(i)
    queue = [(-n, pair) for pair, n in pairs.items()]
    heapq.heapify(queue)
    while len(vocabulary) < size and queue:
        negative, pair = heapq.heappop(queue)
        if pairs.get(pair, 0) != -negative:
            continue  # a stale entry: the pair's count changed since it was queued
        if -negative < 2:
            break  # a pair seen once would only memorise a word
        merged = pair[0] + pair[1][len(CONTINUATION):]
        if len(merged.removeprefix(CONTINUATION)) > MAX_PIECE_CHARS:
            continue
        if merged not in known:
            known.add(merged)
            vocabulary.append(merged)
        changed: set[tuple[str, str]] = set()
        for i in holders.pop(pair, ()):
            old = pieces[i]
            for p in zip(old, old[1:], strict=False):
                pairs[p] -= counts[i]
                changed.add(p)
            new, at = [], 0
            while at < len(old):
                if at + 1 < len(old) and (old[at], old[at + 1]) == pair:
                    new.append(merged)
                    at += 2
                else:
                    new.append(old[at])
                    at += 1
            pieces[i] = new
            for p in zip(new, new[1:], strict=False):
                pairs[p] += counts[i]
                holders.setdefault(p, set()).add(i)
                changed.add(p)
        pairs.pop(pair, None)
        for p in changed - {pair}:
            if pairs[p] > 0:
                heapq.heappush(queue, (-pairs[p], p))
            else:
                pairs.pop(p)
    return vocabulary


def _characters(word: str) -> list[str]:
    return [word[0], *(CONTINUATION + c for c in word[1:])]


def longest_piece(vocabulary: list[str]) -> int:
    """At least the most characters one piece of `vocabulary` covers: its whole length, `##` included (a word's
    first piece may itself begin with `##` when punctuation is kept)."""
    return max((len(piece) for piece in vocabulary), default=1)


def split_ids(words, lookup, longest: int, unknown: int):
    """Words (tf.string vector) -> their pieces' ids, a RaggedTensor [words, None] (int32).

    `lookup(strings)` gives each string's id, -1 for one outside the vocabulary; `longest` bounds the pieces
    tried at each position. Works on the words' characters laid end to end: for every character position
    and length, the id of the piece starting there (`##` unless at a word's start), then one step per
    piece of the longest word moves every word forward by its longest match.
    """
    import tensorflow as tf

    chars = tf.strings.unicode_split(words, "UTF-8")
    flat = chars.flat_values
    total = tf.size(flat, out_type=tf.int64)
    starts, lengths = chars.row_starts(), chars.row_lengths()
    word_ends = starts + lengths
    owner = chars.value_rowids()
    ends = tf.gather(word_ends, owner)  # where each character's word ends
    position = tf.range(total)
    first = position == tf.gather(starts, owner)
    padded = tf.concat([flat, tf.fill([longest], "")], 0)
    piece, best_length, best_id = tf.fill([total], ""), tf.zeros([total], tf.int32), tf.fill([total], -1)
    for length in range(1, longest + 1):
        piece = tf.strings.join([piece, padded[length - 1:length - 1 + total]])
        ids = lookup(tf.where(first, piece, tf.strings.join([CONTINUATION, piece])))
        found = (ids >= 0) & (position + length <= ends)
        best_length = tf.where(found, length, best_length)
        best_id = tf.where(found, ids, best_id)

    too_long = lengths > MAX_WORD_CHARS
    longest_word = tf.reduce_max(tf.concat([lengths, [1]], 0))  # at least one step: an empty TensorArray has no shape
    steps = tf.cast(tf.minimum(longest_word, MAX_WORD_CHARS), tf.int32)
    # one entry past the last character, read by words already finished (never kept), padded once for all steps
    best_length, best_id = tf.concat([best_length, [0]], 0), tf.concat([best_id, [-1]], 0)

    def step(i, at, failed, emitted, kept):
        live = (at < word_ends) & ~too_long
        here = tf.minimum(at, total)
        length, piece_id = tf.gather(best_length, here), tf.gather(best_id, here)
        failed = failed | (live & (length == 0))
        return (i + 1, at + tf.cast(tf.maximum(length, 1), tf.int64), failed,
                emitted.write(i, piece_id), kept.write(i, live & (length > 0)))

    words_count = tf.size(lengths)
    _, _, failed, emitted, kept = tf.while_loop(
        lambda i, *_: i < steps, step,
        (0, starts, too_long, tf.TensorArray(tf.int32, size=steps), tf.TensorArray(tf.bool, size=steps)))
    ids = tf.transpose(tf.reshape(emitted.stack(), [steps, words_count]))
    keep = tf.transpose(tf.reshape(kept.stack(), [steps, words_count]))
    column = tf.range(steps)[tf.newaxis, :]
    ids = tf.where(failed[:, tf.newaxis], unknown, ids)
    keep = tf.where(failed[:, tf.newaxis], column == 0, keep)  # an unsplittable word is one [UNK]
    return tf.ragged.boolean_mask(ids, keep)
