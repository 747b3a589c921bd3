"""course_lib: the helper package of the course "How neural networks are optimized".

Modules and packages (data flows one way, top to bottom):

- ``course_lib.assets``        package data (no module): the pretrained CNN backbone
- ``course_lib.data``          MNIST-1D generated offline, scikit-learn's digits, transfer tasks
- ``course_lib.models``        logistic regression, MLP, 1-D CNN: ``features`` + ``classifier``
- ``course_lib.param_groups``  splitting parameters into optimizer groups
- ``course_lib.optim``         17 optimizers: torch.optim's (SGD ... LBFGS, Muon) step for step, and
                               Lion, Yogi, Lamb, LARS, Schedule-Free AdamW against references
- ``course_lib.schedules``     pure schedules: ``value = schedule(step)``
- ``course_lib.schedulers``    torch-compatible schedulers built on the pure schedules
- ``course_lib.averaging``     EMA and SWA of the weights, SWALR, update_bn (as ``swa_utils``)
- ``course_lib.training``      package: ``fit`` from history, RNG state, checkpoints, a train step
                               (accumulation, clipping, mixed precision with GradScaler, EMA)
- ``course_lib.pretrain``      the recipes' training; ``python -m course_lib.pretrain`` (backbone)
- ``course_lib.transfer``      fine-tuning strategies for the backbone on the target task
- ``course_lib.compare``       several seeds per configuration, tables, paired differences
- ``course_lib.lr_finder``     the learning-rate range test
- ``course_lib.landscapes``    2-D test functions and optimizer trajectories on them
- ``course_lib.experiments``   package: the explorers' pure compute (no ipywidgets import)
- ``course_lib.distributed``   package: torchrun launches on CPU (gloo), DDP/ZeRO/FSDP2/DCP studies
- ``course_lib.integrations``  package: ``keras`` (Keras 3), ``lightning``, ``optuna``,
                               ``optuna_processes`` (one study shared by worker processes)
- ``course_lib.plots``         matplotlib helpers
- ``course_lib.widgets``       ipywidgets explorers: thin shells around ``course_lib.experiments``
- ``course_lib.exercises``     the notebooks' self-checks, one module per notebook
"""

__version__ = "0.1.0"
