"""RNN: a recurrent classifier or regressor of sequences, masked where a batch is padded.

Text (token ids) is embedded, numeric steps are projected to `embedding_dim`; then `layers` GRU or LSTM
layers (bidirectional by default), the last one's final state, dropout and one linear output layer.
Padded steps are masked, so every sequence is read to its own last step whatever the batch's length.
"""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import MAX_UNITS, ModelConfig, require, require_choice
from models.base_model import BaseModel

CELLS = ("gru", "lstm")


@dataclass
class RNNConfig(ModelConfig):
    _target_: str = "models.RNN"
    cell: str = "gru"  # gru | lstm
    units: int = 64
    layers: int = 1
    bidirectional: bool = True
    embedding_dim: int = 64  # text: each token's embedding; numeric steps: their projection
    dropout: float = 0.1

    def __post_init__(self) -> None:
        require_choice("model.cell", self.cell, CELLS)
        for key in ("units", "embedding_dim"):
            require(1 <= getattr(self, key) <= MAX_UNITS, f"model.{key}", getattr(self, key),
                    f"must be in [1, {MAX_UNITS}]")
        require(1 <= self.layers <= 64, "model.layers", self.layers, "must be in [1, 64]")
        require(0 <= self.dropout < 1, "model.dropout", self.dropout, "must be in [0, 1)")


class RNN(BaseModel):
    """A GRU or LSTM over text or numeric sequences."""

    Config = RNNConfig
    takes_sequences = True
    search_space = {
        "model.units": "choice(32, 64, 128)",
        "model.cell": "choice(gru, lstm)",
        "model.dropout": "interval(0.0, 0.5)",
        "optimizer.lr": "tag(log, interval(1e-4, 1e-2))",
    }

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        hp = self.hparams
        inputs = keras.Input(input_shape, dtype=self.input_dtype)
        if self.vocabulary_size:
            x = layers.Embedding(self.vocabulary_size, hp.embedding_dim, mask_zero=True)(inputs)  # 0: padding
        else:
            x = layers.Dense(hp.embedding_dim)(layers.Masking(mask_value=self.padding_value)(inputs))
        for index in range(hp.layers):
            cell = {"gru": layers.GRU, "lstm": layers.LSTM}[hp.cell]
            recurrent = cell(hp.units, return_sequences=index < hp.layers - 1)
            x = layers.Bidirectional(recurrent)(x) if hp.bidirectional else recurrent(x)
        x = layers.Dropout(hp.dropout)(x)
        return keras.Model(inputs, layers.Dense(num_outputs)(x), name="rnn")
