"""Measurements that judge nothing: the numbers the checks compare with their thresholds.

- `stats`: per-channel image statistics and the normalization scheme they imply;
- `labelinfo`: label encodings, class counts and label order;
- `history`: a training history's aligned epochs, chance level, fitted K and score keys,
  plus the predicates that several LOG and FIT checks read;
- `model`: the user's model evaluated on its data (cached per `Inputs`);
- `neardup`: the near-duplicate search behind DUP002;
- `featdup`: the nearest-neighbour search in a model's features behind DUP003;
- `scale`: the eval/train scale comparison behind PRE001-PRE003.

Nothing here imports a check module, and no check module imports another.
"""
