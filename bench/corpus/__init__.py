"""A generated corpus of real Keras training runs whose cause is known because it was injected.

- `spec.py`: the frozen records of a run (`RunSpec`: data, model, training, injected causes, truth,
  log shapes, seed) and its stable `run_id`;
- `grid.py`: `GRID`, the declarative list of runs (`python -m bench.corpus list` counts them);
- `data.py`: the data recipes: every array as fed, rebuilt exactly from its spec, without TensorFlow;
- `models.py`: the Keras models, optimizers, losses and metrics;
- `runner.py`: one run (fit, evaluate, the console captured; written atomically);
- `generate.py`: the resumable generator (`python -m bench.corpus --jobs N`);
- `shapes.py`: the log writers (every shape a user pastes);
- `pack.py`: `runs.jsonl.gz`, the one committed file; `load.py`: reading it back.
"""
