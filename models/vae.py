"""VAE: a variational autoencoder (Kingma & Welling 2014) with its own training step.

    x -> encoder -> (z_mean, z_log_var) -> z = z_mean + exp(z_log_var / 2) * eps -> decoder -> x'
    loss = reconstruction (Bernoulli: binary cross-entropy, or Gaussian: squared error, summed over the
           features) + beta * KL(q(z|x) || N(0, I))

The noise `eps` is drawn from a seeded `keras.random.SeedGenerator`, so a resumed run draws the noise
an uninterrupted one draws. For `dataset.task=unsupervised` (the labels are not used); inputs are
normalised features (`normalize: scale` puts digits and images in [0, 1], as the Bernoulli
likelihood wants). `infer` and the SavedModel return the `reconstruction` of each element (in the
dataset's raw units, through the posterior mean) and its `latent_mean`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from conf.schema import MAX_UNITS, ModelConfig, require, require_choice
from models.base_model import BaseModel

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass
class VAEConfig(ModelConfig):
    _target_: str = "models.VAE"
    latent_dim: int = 8
    hidden_units: list[int] = field(default_factory=lambda: [128])  # of the encoder; the decoder mirrors them
    beta: float = 1.0  # weight of the KL term (beta-VAE, Higgins et al. 2017, when > 1)
    likelihood: str = "bernoulli"  # bernoulli: inputs in [0, 1] | gaussian: any real inputs

    def __post_init__(self) -> None:
        require(1 <= self.latent_dim <= MAX_UNITS, "model.latent_dim", self.latent_dim, f"must be in [1, {MAX_UNITS}]")
        require(bool(self.hidden_units) and all(1 <= units <= MAX_UNITS for units in self.hidden_units),
                "model.hidden_units", self.hidden_units, f"a non-empty list of integers in [1, {MAX_UNITS}]")
        require(self.beta >= 0, "model.beta", self.beta, "must be >= 0")
        require_choice("model.likelihood", self.likelihood, LIKELIHOODS)


class VAE(BaseModel):
    """The encoder, the sampler and the decoder; the step is `VariationalAutoencoder.train_step`."""

    Config = VAEConfig
    tasks = ("unsupervised",)
    reported_metrics = {"reconstruction_loss": "min", "kl_loss": "min"}
    search_space = {
        "model.latent_dim": "choice(2, 4, 8, 16)",
        "model.beta": "interval(0.25, 2.0)",
        "optimizer.lr": "tag(log, interval(1e-4, 1e-2))",
    }

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        hp = self.hparams
        features = int(np.prod(input_shape))
        inputs = keras.Input(input_shape)
        x = layers.Flatten()(inputs)
        for units in hp.hidden_units:
            x = layers.Dense(units, activation="relu")(x)
        encoder = keras.Model(inputs, [layers.Dense(hp.latent_dim, name="z_mean")(x),
                                       layers.Dense(hp.latent_dim, name="z_log_var")(x)], name="encoder")
        latent = keras.Input((hp.latent_dim,))
        x = latent
        for units in reversed(hp.hidden_units):
            x = layers.Dense(units, activation="relu")(x)
        x = layers.Dense(features, activation="sigmoid" if hp.likelihood == "bernoulli" else None)(x)
        decoder = keras.Model(latent, layers.Reshape(input_shape)(x), name="decoder")
        return variational_autoencoder(encoder, decoder, hp.beta, hp.likelihood)

    def outputs(self, inputs, threshold=0.5):
        import keras

        z_mean, _ = self.network.encoder(inputs, training=False)
        reconstruction = keras.ops.cast(self.network.decoder(z_mean, training=False), "float32")
        return {"reconstruction": self.denormalized(reconstruction), "latent_mean": keras.ops.cast(z_mean, "float32")}


def variational_autoencoder(encoder, decoder, beta: float, likelihood: str):
    """The Keras model that trains encoder and decoder together (defined here so that importing this file
    does not import TensorFlow)."""
    import keras
    import tensorflow as tf
    from keras import ops

    class VariationalAutoencoder(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.encoder, self.decoder = encoder, decoder
            self.noise = keras.random.SeedGenerator(0)
            self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction_loss", "kl_loss")}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def call(self, x, training=False):
            z_mean, _ = self.encoder(x, training=training)
            return self.decoder(z_mean, training=training)

        def losses_of(self, x, training):
            z_mean, z_log_var = (ops.cast(t, "float32") for t in self.encoder(x, training=training))
            eps = keras.random.normal(ops.shape(z_mean), seed=self.noise)
            z = z_mean + ops.exp(0.5 * z_log_var) * eps
            reconstruction = ops.cast(self.decoder(z, training=training), "float32")
            batch = ops.shape(x)[0]
            x, reconstruction = ops.reshape(x, (batch, -1)), ops.reshape(reconstruction, (batch, -1))
            if likelihood == "bernoulli":
                per_feature = keras.losses.binary_crossentropy(x[..., None], reconstruction[..., None])
            else:
                per_feature = ops.square(x - reconstruction)
            reconstruction_loss = ops.mean(ops.sum(per_feature, axis=1))
            kl_loss = ops.mean(ops.sum(-0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var)), axis=1))
            return {"loss": reconstruction_loss + beta * kl_loss, "reconstruction_loss": reconstruction_loss,
                    "kl_loss": kl_loss}

        def report(self, losses):
            for name, value in losses.items():
                self.trackers[name].update_state(value)
            return {name: tracker.result() for name, tracker in self.trackers.items()}

        def train_step(self, x):
            with tf.GradientTape() as tape:
                losses = self.losses_of(x, training=True)
            gradients = tape.gradient(losses["loss"], self.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights, strict=True))
            return self.report(losses)

        def test_step(self, x):
            return self.report(self.losses_of(x, training=False))

    return VariationalAutoencoder(name="vae")
