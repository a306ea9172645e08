"""ResNet for small images: the CIFAR network of He et al. 2016 ("Deep Residual Learning", section 4.2).

    3x3 conv, 16 -> [n blocks, 16 filters] -> [n blocks, 32, stride 2] -> [n blocks, 64, stride 2]
    -> global average pool -> dense logits;  depth = 6n + 2 (20, 32, 44, 56, 110)

Each block is two 3x3 convolutions with batch normalisation, added to its input. Where a stage halves
the size and doubles the filters, the shortcut is the paper's option A (the input subsampled, the new
channels zero: no parameters) or option B (a 1x1 convolution). `preactivation: true` gives the
pre-activation blocks of He et al. 2016b ("Identity Mappings", BN -> ReLU -> conv). Weight decay is
the optimizer's (`optimizer.weight_decay`); `conf/experiment/cifar10_resnet20.yaml` is the paper's
schedule. Published: ResNet-20 91.25 %, ResNet-56 93.03 % test accuracy on CIFAR-10 (Table 6).
"""

from __future__ import annotations

from dataclasses import dataclass

from conf.schema import MAX_UNITS, ModelConfig, require, require_choice
from models.base_model import BaseModel

SHORTCUTS = ("zero_pad", "projection")


@dataclass
class ResNetConfig(ModelConfig):
    _target_: str = "models.ResNet"
    depth: int = 20  # 6n + 2
    width: int = 16  # filters of the first stage; each next stage doubles them
    shortcut: str = "zero_pad"  # zero_pad: the paper's option A | projection: option B
    preactivation: bool = False

    def __post_init__(self) -> None:
        require(8 <= self.depth <= 1202 and (self.depth - 2) % 6 == 0, "model.depth", self.depth,
                "must be 6n + 2 with n >= 1: 8, 14, 20, 32, 44, 56, 110, ...")
        require(1 <= self.width <= MAX_UNITS, "model.width", self.width, f"must be in [1, {MAX_UNITS}]")
        require_choice("model.shortcut", self.shortcut, SHORTCUTS)


class ResNet(BaseModel):
    """Three stages of residual blocks, then global average pooling and class logits."""

    Config = ResNetConfig
    search_space = {
        "model.depth": "choice(8, 14, 20)",
        "model.width": "choice(8, 16, 32)",
        "optimizer.lr": "tag(log, interval(1e-3, 2e-1))",
        "optimizer.weight_decay": "tag(log, interval(1e-5, 1e-3))",
    }

    def build_network(self, input_shape, num_outputs):
        import keras
        from keras import layers

        self.require_image_input(input_shape)
        hp = self.hparams
        blocks = (hp.depth - 2) // 6

        def conv(filters, stride=1, kernel=3):
            return layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                                 kernel_initializer="he_normal")

        def bn_relu(x):
            return layers.Activation("relu")(layers.BatchNormalization()(x))

        def shortcut(x, filters, stride):
            if stride == 1 and x.shape[-1] == filters:
                return x
            if hp.shortcut == "projection":  # option B
                return layers.BatchNormalization()(conv(filters, stride, kernel=1)(x))
            x = layers.MaxPooling2D(pool_size=1, strides=stride)(x)  # option A: every stride-th pixel
            extra = filters - x.shape[-1]  # and zero channels, half before and half after the input's
            return keras.ops.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))

        def block(x, filters, stride):
            if hp.preactivation:
                y = bn_relu(x)
                residual = shortcut(y if stride > 1 or x.shape[-1] != filters else x, filters, stride)
                y = conv(filters)(bn_relu(conv(filters, stride)(y)))
                return layers.Add()([y, residual])
            y = bn_relu(conv(filters, stride)(x))
            y = layers.BatchNormalization()(conv(filters)(y))
            return layers.Activation("relu")(layers.Add()([y, shortcut(x, filters, stride)]))

        inputs = keras.Input(input_shape)
        x = conv(hp.width)(inputs)
        x = x if hp.preactivation else bn_relu(x)
        for stage in range(3):
            for index in range(blocks):
                x = block(x, hp.width * 2**stage, 2 if stage > 0 and index == 0 else 1)
        x = bn_relu(x) if hp.preactivation else x
        x = layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, layers.Dense(num_outputs)(x), name=f"resnet{hp.depth}")

