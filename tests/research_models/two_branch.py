"""A network of two inputs and two outputs, as the Keras functional API guide draws one: an image branch
and a tabular branch, concatenated, then a class head and a value head (for `dataset=digit_features`)."""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import ModelConfig
from models.base_model import BaseModel


@dataclass
class TwoBranchConfig(ModelConfig):
    _target_: str = "tests.research_models.two_branch.TwoBranch"
    filters: int = 8
    units: int = 32


class TwoBranch(BaseModel):
    Config = TwoBranchConfig
    named_inputs = True
    named_outputs = True
    search_space = {"model.units": "choice(16, 32)", "optimizer.lr": "tag(log, interval(1e-3, 1e-2))"}

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        image = keras.Input(input_shape["image"], name="image")
        strokes = keras.Input(input_shape["strokes"], name="strokes")
        x = layers.Conv2D(self.hparams.filters, 3, activation="relu", padding="same")(image)
        x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(x))
        x = layers.Concatenate()([x, layers.Flatten()(image), layers.Dense(8, activation="relu")(strokes)])
        x = layers.Dense(self.hparams.units, activation="relu")(x)
        return keras.Model({"image": image, "strokes": strokes},
                           {"digit": layers.Dense(num_outputs["digit"], name="digit")(x),
                            "ink": layers.Dense(num_outputs["ink"], name="ink")(x)}, name="two_branch")
