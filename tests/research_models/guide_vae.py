"""The variational autoencoder of the Keras guide, as a researcher drops it in: a `keras.Model` subclass
with only a `train_step` (no `call`, no `test_step`), its metrics in trackers, noise from a seeded
`keras.random.SeedGenerator`. The `BaseModel` subclass below is what this project asks for on top:
the config, the network, the declared metrics and what infer returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import ModelConfig
from models.base_model import BaseModel


def guide_classes():
    import keras
    import tensorflow as tf
    from keras import layers, ops

    class Sampling(layers.Layer):
        """z = z_mean + exp(z_log_var / 2) * epsilon."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class VAE(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss = ops.mean(ops.sum(keras.losses.binary_crossentropy(data, reconstruction),
                                                       axis=(1, 2)))
                kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
                kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {"loss": self.total_loss_tracker.result(),
                    "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                    "kl_loss": self.kl_loss_tracker.result()}

    return Sampling, VAE


@dataclass
class GuideVAEConfig(ModelConfig):
    _target_: str = "tests.research_models.guide_vae.GuideVAE"
    latent_dim: int = 2
    hidden: int = 16


class GuideVAE(BaseModel):
    Config = GuideVAEConfig
    tasks = ("unsupervised",)
    reported_metrics = {"reconstruction_loss": "min", "kl_loss": "min"}
    search_space = {"model.latent_dim": "choice(2, 4)", "optimizer.lr": "tag(log, interval(1e-3, 1e-2))"}

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        Sampling, VAE = guide_classes()
        latent_dim = self.hparams.latent_dim
        encoder_inputs = keras.Input(shape=input_shape)
        x = layers.Flatten()(encoder_inputs)
        x = layers.Dense(self.hparams.hidden, activation="relu")(x)
        z_mean = layers.Dense(latent_dim, name="z_mean")(x)
        z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
        z = Sampling()([z_mean, z_log_var])
        encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
        latent_inputs = keras.Input(shape=(latent_dim,))
        x = layers.Dense(int(__import__("numpy").prod(input_shape)), activation="sigmoid")(latent_inputs)
        decoder = keras.Model(latent_inputs, layers.Reshape(input_shape)(x), name="decoder")
        return VAE(encoder, decoder)

    def outputs(self, inputs, threshold=0.5):
        z_mean, _, _ = self.network.encoder(inputs)
        return {"reconstruction": self.denormalized(self.network.decoder(z_mean)), "latent_mean": z_mean}
