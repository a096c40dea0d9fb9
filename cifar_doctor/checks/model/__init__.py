"""MDL: the model's structure against its loss and its data.

These checks read `inputs.model`, a `cifar_doctor.inputs.ModelInfo` (plain facts
read off a Keras model by `cifar_doctor.sources.models`); they never import
TensorFlow or Keras.

What Keras 3 actually does, which the judgements below rest on (TensorFlow
backend, verified against `model.evaluate`):

- `categorical_crossentropy` / `sparse_categorical_crossentropy` with
  `from_logits=False` divide the outputs by their sum, clip them to
  [1e-7, 1 - 1e-7] and take the log. Fed logits (a linear output), negative
  values are clipped to 1e-7: the loss is wrong and learning is crippled.
- A softmax or sigmoid output tensor carries its logits (`_keras_logits`),
  and every cross-entropy uses them when present, whatever `from_logits` says:
  softmax + `from_logits=True` trains correctly there (with a UserWarning), but
  applies softmax twice in JAX/PyTorch, in Keras 2 and in any loss computed
  outside Keras.

The checks live by topic: `structure` (the output layer against the loss and
the classes), `input_layer` (in-model rescaling and input shape), `measured`
(the model evaluated on its data, through `cifar_doctor.measure.model`),
`orientation` (eval images re-oriented, measured on the model) and
`optimizer` (the learning rate).
"""
