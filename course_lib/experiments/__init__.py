"""The pure compute behind the course's explorers, one submodule per notebook topic.

Each module holds the functions a widget of ``course_lib.widgets`` calls and a notebook or a test
calls directly: they take plain arguments, return frozen dataclasses with a one-line ``status``, and
never raise because a run diverges ("diverged at step k"). Nothing here imports ipywidgets or
matplotlib (``course_lib.plots`` draws, ``course_lib.widgets`` shows).

- ``gd``: gradient descent on a quadratic against its closed form (notebook 01).
- ``theory``: convexity, saddles, SGD's noise floor and rates, Newton and preconditioning,
  AdaGrad on rare features, Adadelta and Yogi (notebooks 01 and 03).
- ``momentum``: heavy ball and Nesterov, the (lr, momentum) phase diagram (notebook 02).
- ``adaptive``: the optimizer race, Adam's bias correction, AMSGrad (notebook 03).
- ``schedules``: :data:`~course_lib.experiments.schedules.SCHEDULE_CATALOGUE`, the designer's table
  (notebook 05).
- ``transfer``: a short differential fine-tune (notebook 07).
- ``lr_finder``: the LR range test and its reading (notebook 08).
- ``real_images``: constant, cosine and one-cycle compared on the real MNIST digits with a 2-D CNN:
  range test, equal-budget tuning on a validation split, paired test seeds (notebook 08).
- ``muon``: Newton-Schulz on the singular values of a matrix, Muon's step (notebook 09).
- ``after_adam``: optimizer state in bytes, the time-to-target benchmark with equal tuning
  budgets (notebook 09).
- ``wsd``: WSD trunks with branched cooldowns, EMA/SWA, SWA with batch norm (notebook 10).
- ``practice``: gradient accumulation and its weighting bugs, clipping, mixed precision and
  GradScaler's skipped steps, bf16 Adam's lost updates, full checkpoints (notebook 11).
- ``large_batch``: the linear scaling rule with warm-up, the gradient noise scale, LARS and LAMB at a
  large batch (notebook 12).
- ``step_cost``: what an optimizer step costs: state bytes per parameter, step time against the
  number of tensors (loop and foreach), bytes moved against a measured triad bandwidth (notebook 13).
- ``pitfalls``: the ten broken snippets of the pitfalls clinic, measured and fixed (notebook P).
"""
