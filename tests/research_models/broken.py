"""A model that goes wrong in the ways researchers' models do, one per `model.fault`, for the one-line errors."""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import ModelConfig
from models.base_model import BaseModel

FAULTS = ("not_a_model", "tensor_step", "vector_metric", "missing_metric", "raises", "compile_arguments",
          "unbuilt_optimizer")


@dataclass
class BrokenConfig(ModelConfig):
    _target_: str = "tests.research_models.broken.Broken"
    fault: str = "raises"


class Broken(BaseModel):
    Config = BrokenConfig
    tasks = ("classification", "unsupervised")
    reported_metrics = {"sharpness": "max"}

    def build_network(self, input_shape, num_outputs):
        import keras
        import tensorflow as tf

        fault = self.hparams.fault
        if fault == "not_a_model":
            return keras.layers.Dense(num_outputs)
        dense = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(num_outputs)])

        class Stepper(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = dense
                self.tracker = keras.metrics.Mean(name="loss")
                if fault == "unbuilt_optimizer":
                    self.other_optimizer = keras.optimizers.SGD()

            def train_step(self, data):
                x = data[0] if isinstance(data, tuple) else data
                with tf.GradientTape() as tape:
                    loss = keras.ops.mean(keras.ops.square(self.dense(x)))
                gradients = tape.gradient(loss, self.trainable_weights)
                self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
                self.tracker.update_state(loss)
                if fault == "tensor_step":
                    return loss
                if fault == "vector_metric":
                    return {"loss": self.tracker.result(), "per_output": keras.ops.mean(self.dense(x), axis=0)}
                if fault == "raises":
                    raise_shape_error(x)
                return {"loss": self.tracker.result()}  # missing_metric: no "sharpness"

            def compile(self, learning_rate, **kwargs):  # compile_arguments: not what the base model passes
                super().compile(optimizer=keras.optimizers.SGD(learning_rate), **kwargs)

        if fault != "compile_arguments":
            del Stepper.compile
        return Stepper()


def raise_shape_error(x):
    raise ValueError(f"a researcher's bug: cannot reshape {tuple(x.shape)} into (3, 3)")
