"""MLP: flatten the input, then Dense -> Dropout blocks, then one Dense layer of class logits."""

from __future__ import annotations

from dataclasses import dataclass, field

from conf.schema import MAX_UNITS, ModelConfig, require, require_choice
from models.base_model import BaseModel

ACTIVATIONS = ("relu", "gelu", "tanh", "elu", "swish")


@dataclass
class MLPConfig(ModelConfig):
    _target_: str = "models.MLP"
    hidden_units: list[int] = field(default_factory=lambda: [256, 128])
    dropout: float = 0.2
    activation: str = "relu"

    def __post_init__(self) -> None:
        require(bool(self.hidden_units) and all(1 <= units <= MAX_UNITS for units in self.hidden_units),
                "model.hidden_units", self.hidden_units, f"a non-empty list of integers in [1, {MAX_UNITS}]")
        require(0 <= self.dropout < 1, "model.dropout", self.dropout, "must be in [0, 1)")
        require_choice("model.activation", self.activation, ACTIVATIONS)


class MLP(BaseModel):
    """A dense classifier for any input shape."""

    Config = MLPConfig
    search_space = {
        "model.hidden_units": "choice([128],[256],[256,128],[512,256])",
        "model.dropout": "interval(0.0, 0.5)",
        "optimizer.lr": "tag(log, interval(1e-4, 1e-2))",
    }

    def build_network(self, input_shape, num_classes):
        import keras
        from keras import layers

        inputs = keras.Input(input_shape)
        x = layers.Flatten()(inputs)
        for units in self.hparams.hidden_units:
            x = layers.Dense(units, activation=self.hparams.activation)(x)
            x = layers.Dropout(self.hparams.dropout)(x)
        logits = layers.Dense(num_classes)(x)
        return keras.Model(inputs, logits, name="mlp")
