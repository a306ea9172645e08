"""The IMDB movie reviews benchmark (Maas et al. 2011, "Learning Word Vectors for Sentiment Analysis"):
25,000 training and 25,000 test reviews, each labelled negative (0) or positive (1), balanced. The archive
`aclImdb_v1.tar.gz` (84,125,825 bytes; SHA-256 as TensorFlow Datasets' `imdb_reviews` checksums list it) is
downloaded once by `python -m data.prepare imdb`, resumably and verified, then streamed member by member: the
reviews of `aclImdb/{train,test}/{neg,pos}/*.txt`, in the archive's order (the 50,000 unlabelled reviews of
`train/unsup/` are not used). A review keeps its `<br />` line breaks (the word `br` once punctuation is
stripped)."""

from __future__ import annotations

import re
import tarfile

import numpy as np

from conf.errors import UserError
from data.download import RemoteFile
from data.sources import CHUNK_EXAMPLES, Source
from data.text import decoded

ARCHIVE = RemoteFile("aclImdb_v1.tar.gz", ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
                     "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe")
CLASS_NAMES = ("neg", "pos")
MEMBER = re.compile(r"^aclImdb/(train|test)/(neg|pos)/[^/]+\.txt$")


def load_imdb(cfg, files):
    path = files[ARCHIVE.name]

    def reader(part: str):
        def read(labels_only: bool = False):
            texts, labels, count = [], [], 0
            with tarfile.open(path, "r:gz") as archive:
                for member in archive:
                    match = MEMBER.match(member.name)
                    if not match or match.group(1) != part or not member.isfile():
                        continue
                    labels.append(CLASS_NAMES.index(match.group(2)))
                    if not labels_only:
                        texts.append(decoded(archive.extractfile(member).read(), f"{path}:{member.name}"))
                    if len(labels) == CHUNK_EXAMPLES:
                        yield (None if labels_only else np.array(texts, dtype=object)), np.array(labels, "int64")
                        count, texts, labels = count + len(labels), [], []
            if labels:
                yield (None if labels_only else np.array(texts, dtype=object)), np.array(labels, "int64")
            elif count == 0:
                raise UserError(f"{path} holds no review under aclImdb/{part}/neg or aclImdb/{part}/pos")
        return read

    return {"train": reader("train"), "test": reader("test")}


SOURCE = Source(load_imdb, (ARCHIVE,), CLASS_NAMES)
