"""LOG: what the loss and accuracy numbers of a training log say about the pipeline.

These checks read a `History` only (console log, CSVLogger CSV, History JSON
or a live Keras history). They rest on how Keras computes its numbers:

- Standalone Keras 2 (<= 2.2) computed cross-entropy from probabilities
  clipped at 1e-7 (`K.epsilon()`), so one sample costs at most
  -ln(1e-7) = 16.12 nats.
- Keras 3 and tf.keras 2.x (`tf_keras`, TF 2.x) compute it from the logits
  behind a softmax output (tf.keras: `backend._get_logits`), unclipped: a
  confidently wrong sample can cost hundreds of nats. A Keras 2-style log
  ("[====]" bars) therefore does not tell which regime applies; the numbers
  do (a cost per error above 16.12 cannot come from clipped probabilities).
- A wrong prediction of a model that learned something costs a few nats
  (-ln of the probability it gives the true class); the loss of a model that
  predicts every class with probability 1/K is ln K (2.3026 for K = 10).

So `val_loss / (1 - val_acc)`, an upper bound on the mean cost of one wrong
validation prediction (right ones cost a little, too), tells a saturated
softmax from honest mistakes without the data or the model.

The checks live by topic: `saturation` (LOG001, LOG003, LOG013, LOG014, LOG019, LOG022, LOG023),
`chance` (LOG002, LOG004, LOG007, LOG008, LOG010), `evaluate` (LOG005, LOG011),
`metrics` (LOG009, LOG012) and `history` (LOG006). The measurements they share
(cost per error, chance level, K) are in `cifar_doctor.measure.history`; the
thresholds more than one topic judges with are here.
"""

from __future__ import annotations

from ...measure.history import KERAS2_LOSS_CEILING

#: A mean cost per wrong validation prediction at or above this many nats is
#: saturation: 80% of the Keras 2 ceiling (12.9 nats) means the true class gets
#: a probability near e^-12.9 = 2.5e-6 on essentially every error. A model at
#: its best validation epoch, overfitted or not, pays 2-5 nats per error on
#: CIFAR-sized problems; under Keras 3 (unclipped) a real scale bug pays 20 to
#: several hundred, so one threshold serves both regimes.
SATURATED_COST = 0.8 * KERAS2_LOSS_CEILING


#: The validation cost per error must also be this many times the training
#: cost per error: when training itself saturates (raw 0-255 inputs in both
#: splits, a diverging run) the cause is not an eval-only mismatch.
SATURATION_TRAIN_RATIO = 3.0


#: Epochs at chance needed before calling a run "not learning": epoch 1 alone
#: can sit near chance while a slow optimizer warms up.
CHANCE_MIN_EPOCHS = 2
