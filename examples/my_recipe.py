"""A user recipe for `cifar-doctor compare`: compare your own model and pipeline with the built-in ones.

    cifar-doctor compare original fixed examples/my_recipe.py:recipe --limit 2000 --epochs 2

The function returns a dict (or a `cifar_doctor.training.recipes.Recipe`):
`model` (a builder, or a built model), `compile` (model.compile arguments),
`fit` (batch_size, epochs) and `preprocess(arrays) -> arrays`, which receives
the uint8 CIFAR-10 arrays (after `--limit`) and returns them as the model is fed.
See `cifar_doctor/training/user_recipe.py` for the protocol.

This one feeds raw uint8 pixels to every split and lets a `Rescaling` layer
inside the model scale them: the same code path for training and test images,
saved with the model, so a forgotten `/ 255` cannot happen.
"""


def recipe():
    import keras
    from keras import layers

    def build():
        return keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                layers.Rescaling(1.0 / 255),
                layers.Conv2D(32, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(64, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dropout(0.3),
                layers.Dense(10, activation="softmax"),
            ],
            name="rescaling_in_model",
        )

    def preprocess(arrays):
        # images stay uint8 (the model rescales); labels as a flat integer vector
        return {
            "x_train": arrays["x_train"],
            "y_train": arrays["y_train"].reshape(-1),
            "x_test": arrays["x_test"],
            "y_test": arrays["y_test"].reshape(-1),
        }

    return {
        "name": "rescaling-in-model",
        "doc": "Small CNN with layers.Rescaling(1/255) inside the model; raw uint8 pixels for every split.",
        "model": build,
        "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
        "fit": {"batch_size": 128, "epochs": 5},
        "preprocess": preprocess,
    }
