"""A small GAN after the Keras guide "customizing what happens in fit": two networks, two optimizers, its
own `compile(d_optimizer, g_optimizer, loss_fn)` and `train_step`, latent noise from a seeded generator.
On the digits as a task without labels: the discriminator learns real from generated images. Infer and
export return the discriminator's `realness` logit of each image.
"""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import ModelConfig
from models.base_model import BaseModel


def gan_class():
    import keras
    import tensorflow as tf
    from keras import ops

    class GAN(keras.Model):
        def __init__(self, discriminator, generator, latent_dim):
            super().__init__()
            self.discriminator = discriminator
            self.generator = generator
            self.latent_dim = latent_dim
            self.seed_generator = keras.random.SeedGenerator(1337)
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

        def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer
            self.loss_fn = loss_fn

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def train_step(self, real_images):
            batch_size = ops.shape(real_images)[0]
            noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            generated = self.generator(noise)
            combined = ops.concatenate([generated, real_images], axis=0)
            labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(combined))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            noise = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
            with tf.GradientTape() as tape:
                g_loss = self.loss_fn(ops.zeros((batch_size, 1)), self.discriminator(self.generator(noise)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    return GAN


@dataclass
class TinyGANConfig(ModelConfig):
    _target_: str = "tests.research_models.gan.TinyGAN"
    latent_dim: int = 4
    hidden: int = 16


class TinyGAN(BaseModel):
    Config = TinyGANConfig
    tasks = ("unsupervised",)
    reported_metrics = {"d_loss": "min", "g_loss": "min"}
    search_space = {"model.hidden": "choice(8, 16)", "optimizer.lr": "tag(log, interval(1e-4, 1e-2))"}

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        discriminator = keras.Sequential([keras.Input(input_shape), layers.Flatten(),
                                          layers.Dense(self.hparams.hidden, activation="relu"), layers.Dense(1)],
                                         name="discriminator")
        generator = keras.Sequential([keras.Input((self.hparams.latent_dim,)),
                                      layers.Dense(self.hparams.hidden, activation="relu"),
                                      layers.Dense(int(__import__("numpy").prod(input_shape)), activation="sigmoid"),
                                      layers.Reshape(input_shape)], name="generator")
        return gan_class()(discriminator, generator, self.hparams.latent_dim)

    def compile_network(self, network):
        import keras

        network.compile(d_optimizer=self.make_optimizer(), g_optimizer=self.make_optimizer(),
                        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
        network.d_optimizer.build(network.discriminator.trainable_variables)
        network.g_optimizer.build(network.generator.trainable_variables)

    def outputs(self, inputs, threshold=0.5):
        return {"realness": -self.network.discriminator(inputs, training=False)}
