"""Transformer: an encoder over text or numeric sequences, pooled into one linear output layer.

Text (token ids) is embedded, numeric steps are projected to `width`; a learnt position embedding is added
(one per position up to `dataset.max_length`, which a Transformer therefore needs); then `layers` encoder
blocks (multi-head self-attention and a feed-forward layer, each with dropout, a residual connection and
layer normalisation after it, as in Vaswani et al. 2017), a mean over the steps that are not padding,
dropout and the output layer. Padded steps are masked in attention and in the mean, so a sequence's output
does not depend on how much its batch was padded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from conf.errors import UserError
from conf.schema import MAX_UNITS, ModelConfig, require, require_choice
from models.base_model import BaseModel

POOLINGS = ("mean", "max")


@dataclass
class TransformerConfig(ModelConfig):
    _target_: str = "models.Transformer"
    layers: int = 2
    heads: int = 4
    width: int = 64  # of the embeddings and of every block's output; a multiple of heads
    feedforward: int = 128  # units of each block's feed-forward layer
    dropout: float = 0.1
    pooling: str = "mean"  # mean | max, over the steps that are not padding

    def __post_init__(self) -> None:
        require(1 <= self.layers <= 64, "model.layers", self.layers, "must be in [1, 64]")
        require(1 <= self.heads <= 256, "model.heads", self.heads, "must be in [1, 256]")
        for key in ("width", "feedforward"):
            require(1 <= getattr(self, key) <= MAX_UNITS, f"model.{key}", getattr(self, key),
                    f"must be in [1, {MAX_UNITS}]")
        require(self.width % self.heads == 0, "model.width", self.width,
                f"must be a multiple of model.heads={self.heads}")
        require(0 <= self.dropout < 1, "model.dropout", self.dropout, "must be in [0, 1)")
        require_choice("model.pooling", self.pooling, POOLINGS)


class Transformer(BaseModel):
    """A Transformer encoder over text or numeric sequences."""

    Config = TransformerConfig
    takes_sequences = True
    search_space = {
        "model.layers": "choice(1, 2, 4)",
        "model.width": "choice(32, 64, 128)",
        "model.dropout": "interval(0.0, 0.3)",
        "optimizer.lr": "tag(log, interval(1e-4, 3e-3))",
    }

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers, ops

        hp = self.hparams
        if self.max_length is None:
            raise UserError(f"model=transformer learns one position embedding per step: set dataset.max_length "
                            f"(e.g. dataset.max_length=256) for dataset {self.config.dataset.name}")
        inputs = keras.Input(input_shape, dtype=self.input_dtype)
        if self.vocabulary_size:
            mask = ops.not_equal(inputs, 0)
            x = layers.Embedding(self.vocabulary_size, hp.width)(inputs)
        else:
            mask = ops.any(ops.not_equal(inputs, self.padding_value), axis=-1)
            x = layers.Dense(hp.width)(inputs)
        x = PositionEmbedding(self.max_length, name="positions")(x)
        x = layers.Dropout(hp.dropout)(x)
        attention_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        for index in range(hp.layers):
            attended = layers.MultiHeadAttention(hp.heads, hp.width // hp.heads, dropout=hp.dropout,
                                                 name=f"attention_{index}")(x, x, attention_mask=attention_mask)
            x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(hp.dropout)(attended))
            hidden = layers.Dense(hp.feedforward, activation="gelu")(x)
            x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(hp.dropout)(layers.Dense(hp.width)(hidden)))
        weights = ops.cast(mask, x.dtype)[:, :, None]
        if hp.pooling == "mean":
            pooled = ops.sum(x * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        else:
            pooled = ops.max(ops.where(weights > 0, x, ops.full_like(x, -1e4)), axis=1)
        pooled = layers.Dropout(hp.dropout)(pooled)
        return keras.Model(inputs, layers.Dense(num_outputs)(pooled), name="transformer")


@functools.cache
def _position_embedding_class():
    import keras

    @keras.saving.register_keras_serializable(package="models")
    class PositionEmbedding(keras.layers.Layer):
        """Adds a learnt vector per position (up to `length`) to a batch of sequences (batch, steps, width)."""

        def __init__(self, length: int, **kwargs):
            super().__init__(**kwargs)
            self.length = length

        def build(self, input_shape):
            self.positions = self.add_weight(shape=(self.length, input_shape[-1]), initializer="glorot_uniform",
                                             name="positions")

        def call(self, x):
            steps = keras.ops.shape(x)[1]
            return x + keras.ops.cast(self.positions[None, :steps], x.dtype)

        def get_config(self):
            return {**super().get_config(), "length": self.length}

    return PositionEmbedding


def PositionEmbedding(length: int, **kwargs):  # noqa: N802 -- a layer's constructor, built when Keras is there
    return _position_embedding_class()(length, **kwargs)
