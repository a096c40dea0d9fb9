"""Keras models, optimizers, losses and metrics of corpus runs (imports Keras when called)."""

from __future__ import annotations

from typing import Any

from .spec import ModelSpec, TrainSpec

#: Momentum of `sgd-momentum`: the value nearly every tutorial uses.
SGD_MOMENTUM = 0.9

#: Epochs are not the only cost: a fine-tuned base is a `cnn` this wide.
FINETUNE_BASE_WIDTH = 16


def _reg(spec: ModelSpec) -> Any:
    import keras

    return keras.regularizers.L2(spec.weight_decay) if spec.weight_decay else None


def _augment(x: Any, image: bool) -> Any:
    from keras import layers

    if not image:
        return layers.GaussianNoise(0.1)(x)
    x = layers.RandomFlip("horizontal")(x)
    return layers.RandomTranslation(0.1, 0.1)(x)


def _conv_stack(x: Any, spec: ModelSpec, width: int, bn: bool, reg: Any) -> Any:
    from keras import layers

    for w in (width, 2 * width):
        x = layers.Conv2D(w, 3, padding="same", use_bias=not bn, kernel_regularizer=reg)(x)
        if bn:
            x = layers.BatchNormalization(momentum=spec.bn_momentum)(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    return x


def _residual(x: Any, filters: int, stride: int, spec: ModelSpec, reg: Any) -> Any:
    from keras import layers

    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, kernel_regularizer=reg)(x)
    y = layers.BatchNormalization(momentum=spec.bn_momentum)(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg)(y)
    y = layers.BatchNormalization(momentum=spec.bn_momentum)(y)
    if stride != 1 or x.shape[-1] != filters:
        x = layers.Conv2D(filters, 1, strides=stride, use_bias=False, kernel_regularizer=reg)(x)
        x = layers.BatchNormalization(momentum=spec.bn_momentum)(x)
    return layers.Activation("relu")(layers.Add()([x, y]))


def body(spec: ModelSpec, inputs: Any, image: bool) -> Any:
    """The hidden layers of `spec` on `inputs` (everything but the output layer)."""
    from keras import layers

    reg = _reg(spec)
    x = _augment(inputs, image) if spec.augment else inputs
    if spec.kind in ("mlp", "logreg") or not image:
        x = layers.Flatten()(x)
        if spec.kind == "mlp":
            for i in range(spec.depth):
                x = layers.Dense(
                    spec.width if i == 0 else max(spec.width // 2, 4), activation="relu", kernel_regularizer=reg
                )(x)
                if spec.dropout:
                    x = layers.Dropout(spec.dropout)(x)
        return x
    if spec.kind == "tiny-cnn":
        x = layers.Conv2D(spec.width, 3, strides=2, activation="relu", kernel_regularizer=reg)(x)
        return layers.GlobalAveragePooling2D()(x)
    if spec.kind in ("cnn", "cnn-bn"):
        x = _conv_stack(x, spec, spec.width, spec.kind == "cnn-bn", reg)
        x = layers.Flatten()(x)
        x = layers.Dense(4 * spec.width, activation="relu", kernel_regularizer=reg)(x)
        if spec.dropout:
            x = layers.Dropout(spec.dropout)(x)
        return x
    if spec.kind == "resnet":
        x = layers.Conv2D(spec.width, 3, padding="same", use_bias=False, kernel_regularizer=reg)(x)
        x = layers.BatchNormalization(momentum=spec.bn_momentum)(x)
        x = layers.Activation("relu")(x)
        filters = spec.width
        for i in range(spec.depth):
            stride = 1 if i == 0 else 2
            filters = spec.width * (2**i)
            x = _residual(x, filters, stride, spec, reg)
        x = layers.GlobalAveragePooling2D()(x)
        if spec.dropout:
            x = layers.Dropout(spec.dropout)(x)
        return x
    raise ValueError(f"unknown model kind {spec.kind!r}")


def output_layer(spec: ModelSpec) -> Any:
    from keras import layers

    return layers.Dense(spec.units, activation=None if spec.activation == "linear" else spec.activation, name="output")


def build_model(spec: ModelSpec, input_shape: tuple[int, ...], image: bool, base: Any = None) -> Any:
    """A functional model; for `finetune`, `base` (a trained feature extractor) frozen under a new head."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    if spec.kind == "finetune":
        base.trainable = False
        x = base(inputs, training=False)
        x = layers.Dense(spec.width, activation="relu")(x)
        if spec.dropout:
            x = layers.Dropout(spec.dropout)(x)
    else:
        x = body(spec, inputs, image)
    return keras.Model(inputs, output_layer(spec)(x), name=spec.kind.replace("-", "_"))


def pretrain_base(input_shape: tuple[int, ...], classes: int, x: Any, y: Any, epochs: int, seed: int) -> Any:
    """A small CNN trained on other classes (verbose=0); returns its feature extractor (up to Flatten)."""
    import keras
    from keras import layers

    spec = ModelSpec("cnn", width=FINETUNE_BASE_WIDTH)
    inputs = keras.Input(input_shape)
    feats = layers.Flatten()(_conv_stack(inputs, spec, spec.width, False, None))
    base = keras.Model(inputs, feats, name="pretrained_base")
    head = layers.Dense(classes, activation="softmax")(layers.Dense(64, activation="relu")(base.output))
    full = keras.Model(inputs, head)
    full.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    full.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return base


def optimizer(train: TrainSpec) -> Any:
    import keras

    o = keras.optimizers
    return {
        "sgd": lambda: o.SGD(train.lr),
        "sgd-momentum": lambda: o.SGD(train.lr, momentum=SGD_MOMENTUM),
        "adam": lambda: o.Adam(train.lr),
        "rmsprop": lambda: o.RMSprop(train.lr),
        "adadelta": lambda: o.Adadelta(train.lr),
    }[train.optimizer]()


def loss(train: TrainSpec) -> Any:
    import keras

    if train.loss == "mse":
        return "mse"
    cls = {
        "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
        "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
        "binary_crossentropy": keras.losses.BinaryCrossentropy,
    }[train.loss]
    if not train.from_logits:
        return train.loss  # as most users write it: the string
    return cls(from_logits=True)


def metrics(train: TrainSpec) -> list[Any]:
    import keras

    if train.metric == "binary-accuracy-named-accuracy":
        return [keras.metrics.BinaryAccuracy(name="accuracy")]
    return [train.metric]
