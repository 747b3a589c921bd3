"""course_lib: the helper package of the course "How neural networks are optimized".

Modules (data flows one way, top to bottom):

- ``course_lib.data``          MNIST-1D generated offline, scikit-learn's digits, transfer tasks
- ``course_lib.models``        a small MLP and a 1-D CNN with ``features`` and ``classifier`` parts
- ``course_lib.param_groups``  splitting parameters into optimizer groups
- ``course_lib.optim``         SGD, Adagrad, RMSprop, Adam, AdamW, NAdam matching ``torch.optim``
- ``course_lib.schedules``     pure schedules: ``value = schedule(step)``
- ``course_lib.schedulers``    torch-compatible schedulers built on the pure schedules
- ``course_lib.training``      ``fit``: the training loop with history, divergence detection, checkpoints
- ``course_lib.lr_finder``     the learning-rate range test
- ``course_lib.landscapes``    2-D test functions and optimizer trajectories on them
- ``course_lib.plots``         matplotlib helpers
- ``course_lib.widgets``       ipywidgets explorers around tested compute functions
"""

__version__ = "0.1.0"
