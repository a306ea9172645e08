"""CNN: blocks of two 3x3 convolutions and a 2x2 max-pool, doubling the filters each block, then a dense head."""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import MAX_UNITS, ModelConfig, require
from models.base_model import BaseModel


@dataclass
class CNNConfig(ModelConfig):
    _target_: str = "models.CNN"
    filters: int = 48  # of the first block; each next block doubles them
    blocks: int = 2
    kernel_size: int = 3
    dense_units: int = 128
    dropout: float = 0.4
    batch_norm: bool = True

    def __post_init__(self) -> None:
        require(1 <= self.filters <= MAX_UNITS, "model.filters", self.filters, f"must be in [1, {MAX_UNITS}]")
        require(1 <= self.blocks <= 64, "model.blocks", self.blocks, "must be in [1, 64]")
        require(1 <= self.kernel_size <= 1024, "model.kernel_size", self.kernel_size, "must be in [1, 1024]")
        require(1 <= self.dense_units <= MAX_UNITS, "model.dense_units", self.dense_units,
                f"must be in [1, {MAX_UNITS}]")
        require(0 <= self.dropout < 1, "model.dropout", self.dropout, "must be in [0, 1)")


class CNN(BaseModel):
    """A small convolutional classifier for image-shaped inputs (height, width, channels)."""

    Config = CNNConfig
    search_space = {
        "model.filters": "choice(16, 32, 64)",
        "model.dense_units": "choice(64, 128, 256)",
        "model.dropout": "interval(0.0, 0.5)",
        "optimizer.lr": "tag(log, interval(1e-4, 1e-2))",
    }

    def build_network(self, input_shape, num_classes):
        import keras
        from keras import layers

        self.require_image_input(input_shape)
        hp = self.hparams
        inputs = keras.Input(input_shape)
        x = inputs
        for block in range(hp.blocks):
            for _ in range(2):
                x = layers.Conv2D(hp.filters * 2**block, hp.kernel_size, padding="same",
                                  use_bias=not hp.batch_norm)(x)
                if hp.batch_norm:
                    x = layers.BatchNormalization()(x)
                x = layers.Activation("relu")(x)
            if min(x.shape[1], x.shape[2]) >= 2:
                x = layers.MaxPooling2D()(x)
        x = layers.Flatten()(x)
        x = layers.Dense(hp.dense_units, activation="relu")(x)
        x = layers.Dropout(hp.dropout)(x)
        logits = layers.Dense(num_classes)(x)
        return keras.Model(inputs, logits, name="cnn")
