"""Small models of the course, each split into a ``features`` part and a ``classifier`` part.

Every model computes :math:`\\hat y = \\text{classifier}(\\text{features}(x))`. ``features`` is an
``nn.Sequential`` of named blocks (``block1``, ``block2``, ...), ``classifier`` an ``nn.Sequential`` ending
in a layer named ``linear``, so parameter-group rules can address ``"features.block1.*"`` or
``"classifier.*"`` and transfer learning can swap the head and keep the backbone.

- :class:`LogisticRegression`: no features, one linear layer (the paper's 32% on MNIST-1D).
- :class:`MLP`: fully connected blocks ``Linear -> ReLU (-> Dropout)`` (the paper's 68%).
- :class:`CNN2d`: 2-D convolution blocks ``Conv2d -> ReLU -> MaxPool2d`` for images (the MNIST digits
  of :func:`course_lib.data.mnist_digits`), then a linear layer.
- :class:`CNN`: 1-D convolution blocks ``Conv1d -> ReLU`` with stride 2, then a linear layer on the
  flattened feature map (the paper's 94%; the recipe below reaches about 98%).

:data:`RECIPES` holds the training recipes (optimizer, learning rate, schedule, batch size, epochs,
augmentation) that ``benchmarks/bench_mnist1d.py`` measures against the paper's table, and
:func:`load_backbone` / :func:`pretrained_cnn` load the shipped pretrained CNN backbone
(``course_lib/assets/backbone_cnn.pt``, made by ``python -m course_lib.pretrain``).

    >>> model = CNN(seed=0)
    >>> model(torch.zeros(8, 40)).shape
    torch.Size([8, 10])
    >>> [name for name, _ in model.features.named_children()]
    ['block1', 'block2', 'block3']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar, cast

import torch
from torch import nn

from course_lib._validation import check_choice, check_int, check_number, check_sizes

__all__ = [
    "ASSETS_DIR",
    "BACKBONE2D_JSON",
    "BACKBONE2D_PT",
    "BACKBONE_JSON",
    "BACKBONE_PT",
    "CNN",
    "MLP",
    "MODELS",
    "RECIPES",
    "BackboneError",
    "CNN2d",
    "LogisticRegression",
    "backbone_info",
    "build_model",
    "count_parameters",
    "load_backbone",
    "pretrained_cnn",
    "pretrained_cnn2d",
    "sha256_of",
]

#: Folder of the shipped artefacts (``course_lib/assets``): package data, so it is installed with the
#: package (a wheel or a non-editable install keeps it).
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
#: The pretrained CNN backbone: ``state_dict`` of ``CNN().features``.
BACKBONE_PT = ASSETS_DIR / "backbone_cnn.pt"
#: How the backbone was made: arguments, source-task accuracy, torch version, sha256 of the ``.pt``.
BACKBONE_JSON = ASSETS_DIR / "backbone_cnn.json"
#: The pretrained 2-D backbone: ``state_dict`` of ``CNN2d().features``, pretrained on the MNIST digits.
BACKBONE2D_PT = ASSETS_DIR / "backbone_cnn2d.pt"
#: How the 2-D backbone was made (``python -m course_lib.pretrain --backbone mnist``).
BACKBONE2D_JSON = ASSETS_DIR / "backbone_cnn2d.json"


@contextlib.contextmanager
def _seeded(seed):
    """Context in which ``torch``'s global generator is seeded, restored on exit; no-op for None."""
    if seed is None:
        yield
        return
    check_int("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _check_input(x: torch.Tensor, length: int, where: str) -> None:
    if x.shape[-1] != length:
        raise ValueError(
            f"{where} expects inputs whose last dimension is {length}, got shape {tuple(x.shape)}"
        )


def _classifier(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    """The head every model ends with: ``Flatten (-> Dropout) -> linear``."""
    head = nn.Sequential()
    head.add_module("flatten", nn.Flatten())
    if dropout > 0:
        head.add_module("dropout", nn.Dropout(dropout))
    head.add_module("linear", nn.Linear(in_features, num_classes))
    return head


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: one linear layer, :math:`\\hat y = W x + b`.

    ``features`` is an empty ``nn.Sequential`` (the identity) so the model has the same two parts as
    the others; ``classifier.linear`` holds :math:`W \\in \\mathbb{R}^{K \\times d}` and :math:`b`.
    Trained with cross-entropy, :math:`\\mathrm{softmax}(\\hat y)` estimates :math:`p(y \\mid x)`.

    Args:
        in_features: input length :math:`d` (inputs of shape ``(n, d)`` or ``(n, 1, d)``).
        num_classes: number of classes :math:`K` (>= 2).
        seed: if given, the initial weights are drawn with ``torch.manual_seed(seed)`` inside
            ``torch.random.fork_rng``: the global generator is left as it was.

    Example:
        >>> LogisticRegression(seed=0)(torch.zeros(2, 40)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_features: int = 40, num_classes: int = 10, *, seed: int | None = None):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        with _seeded(seed):
            self.features = nn.Sequential()
            self.classifier = _classifier(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_features, "LogisticRegression")
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """Multilayer perceptron: blocks :math:`h_{l} = \\mathrm{ReLU}(W_l h_{l-1} + b_l)`, then a linear head.

    ``features.block<l>`` is ``Linear -> ReLU`` (``-> Dropout`` when ``dropout > 0``);
    ``classifier`` is ``Flatten`` (identity on ``(n, h)``) then ``linear``. The paper's MLP has two
    hidden layers of 100 units.

    Args:
        in_features: input length (inputs of shape ``(n, in_features)`` or ``(n, 1, in_features)``).
        num_classes: number of classes (>= 2).
        hidden_sizes: units of each hidden block, e.g. ``(100, 100)``.
        dropout: dropout probability after each hidden block, in [0, 1).
        seed: seeded initialisation that leaves the global generator unchanged.

    Example:
        >>> model = MLP(hidden_sizes=(100, 100), seed=0)
        >>> model(torch.zeros(4, 40)).shape
        torch.Size([4, 10])
    """

    def __init__(
        self,
        in_features: int = 40,
        num_classes: int = 10,
        hidden_sizes: Sequence[int] = (100, 100),
        dropout: float = 0.0,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        self.hidden_sizes = check_sizes("hidden_sizes", hidden_sizes)
        self.dropout = float(
            check_number("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
        )
        with _seeded(seed):
            self.features = nn.Sequential()
            width = in_features
            for i, h in enumerate(self.hidden_sizes, start=1):
                block = nn.Sequential()
                block.add_module("linear", nn.Linear(width, h))
                block.add_module("relu", nn.ReLU())
                if self.dropout > 0:
                    block.add_module("dropout", nn.Dropout(self.dropout))
                self.features.add_module(f"block{i}", block)
                width = h
            self.classifier = _classifier(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_features, "MLP")
        return self.classifier(self.features(x.flatten(1)))


class CNN(nn.Module):
    """1-D convolutional network: strided ``Conv1d -> ReLU`` blocks, then a linear layer.

    Block :math:`l` computes :math:`h_l = \\mathrm{ReLU}(w_l * h_{l-1} + b_l)` with stride 2 and
    padding ``kernel_size // 2``, so each block halves the length (40 -> 20 -> 10 -> 5). The
    classifier flattens the last feature map (``channels[-1] * 5`` numbers for inputs of length 40),
    applies dropout (if any) and a linear layer. The paper's CNN has three blocks of 25 channels with
    kernels 5, 3, 3; the default here is wider (64 channels), which the recipe in :data:`RECIPES`
    trains to about 98% on MNIST-1D.

    Args:
        in_length: input length (inputs of shape ``(n, in_length)`` or ``(n, 1, in_length)``).
        num_classes: number of classes (>= 2).
        channels: output channels of each block, e.g. ``(64, 64, 64)``.
        kernel_sizes: kernel size of each block (same length as ``channels``; odd numbers).
        stride: stride of every convolution (>= 1).
        dropout: dropout probability before the linear layer, in [0, 1).
        seed: seeded initialisation that leaves the global generator unchanged.

    Example:
        >>> model = CNN(channels=(25, 25, 25), seed=0)
        >>> model.feature_shape
        (25, 5)
        >>> model(torch.zeros(3, 1, 40)).shape
        torch.Size([3, 10])
    """

    def __init__(
        self,
        in_length: int = 40,
        num_classes: int = 10,
        channels: Sequence[int] = (64, 64, 64),
        kernel_sizes: Sequence[int] = (5, 3, 3),
        stride: int = 2,
        dropout: float = 0.0,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        self.in_length = check_int("in_length", in_length, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        self.channels = check_sizes("channels", channels)
        self.kernel_sizes = check_sizes("kernel_sizes", kernel_sizes)
        if len(self.kernel_sizes) != len(self.channels):
            raise ValueError(
                f"kernel_sizes must have one entry per block ({len(self.channels)} channels given), "
                f"got {len(self.kernel_sizes)}: {self.kernel_sizes}"
            )
        for i, k in enumerate(self.kernel_sizes):
            if k % 2 == 0:
                raise ValueError(f"kernel_sizes[{i}] must be an odd integer >= 1, got {k}")
        self.stride = check_int("stride", stride, low=1)
        self.dropout = float(
            check_number("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
        )
        length = in_length
        for k in self.kernel_sizes:
            length = (length + 2 * (k // 2) - k) // self.stride + 1
        if length < 1:  # pragma: no cover - cannot happen with odd kernels and padding k // 2
            raise ValueError(f"in_length={in_length} is too short for {len(self.channels)} blocks")
        self.feature_shape = (self.channels[-1], length)
        with _seeded(seed):
            self.features = nn.Sequential()
            width = 1
            for i, (c, k) in enumerate(zip(self.channels, self.kernel_sizes), start=1):
                block = nn.Sequential()
                block.add_module("conv", nn.Conv1d(width, c, k, stride=self.stride, padding=k // 2))
                block.add_module("relu", nn.ReLU())
                self.features.add_module(f"block{i}", block)
                width = c
            self.classifier = _classifier(width * length, num_classes, self.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_length, "CNN")
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.classifier(self.features(x))

    def reset_classifier(
        self, num_classes: int | None = None, *, seed: int | None = None
    ) -> nn.Module:
        """Replace the head by a freshly initialised one (transfer learning: new task, new head).

        Args:
            num_classes: classes of the new task (default: keep the current number).
            seed: seeded initialisation of the new head, global generator unchanged.

        Returns:
            the model itself, so ``CNN().reset_classifier(5)`` chains.
        """
        if num_classes is not None:
            self.num_classes = check_int("num_classes", num_classes, low=2)
        with _seeded(seed):
            head = cast(nn.Linear, self.classifier.linear)
            self.classifier.linear = nn.Linear(head.in_features, self.num_classes)
        return self


class CNN2d(nn.Module):
    """2-D convolutional network for images: ``Conv2d -> ReLU -> MaxPool2d`` blocks, then a linear layer.

    Block :math:`l` computes :math:`h_l = \\mathrm{maxpool}_2(\\mathrm{ReLU}(w_l * h_{l-1} + b_l))`
    with ``kernel_size`` x ``kernel_size`` kernels and padding ``kernel_size // 2``, so each block keeps
    the number of pixels of a side until the pooling halves it (28 -> 14 -> 7 with two blocks). The
    classifier flattens the last feature map, applies dropout (if any) and a linear layer. Same
    ``features.block*`` / ``classifier.linear`` layout as :class:`CNN`, so parameter groups, gradual
    unfreezing and :meth:`reset_classifier` work the same way.

    Args:
        in_size: side of the square input images (inputs ``(n, 1, in_size, in_size)`` or
            ``(n, in_size, in_size)``).
        num_classes: number of classes (>= 2).
        channels: output channels of each block, e.g. ``(16, 32)``.
        kernel_size: odd kernel side of every convolution.
        dropout: dropout probability before the linear layer, in [0, 1).
        seed: seeded initialisation that leaves the global generator unchanged.

    Example:
        >>> model = CNN2d(seed=0)
        >>> model.feature_shape
        (32, 7, 7)
        >>> model(torch.zeros(3, 1, 28, 28)).shape
        torch.Size([3, 10])
    """

    def __init__(
        self,
        in_size: int = 28,
        num_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 3,
        dropout: float = 0.0,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        self.in_size = check_int("in_size", in_size, low=1)
        self.num_classes = check_int("num_classes", num_classes, low=2)
        self.channels = check_sizes("channels", channels)
        self.kernel_size = check_int("kernel_size", kernel_size, low=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd integer >= 1, got {kernel_size}")
        self.dropout = float(
            check_number("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)
        )
        side = in_size // 2 ** len(self.channels)
        if side < 1:
            raise ValueError(
                f"in_size={in_size} is too small for {len(self.channels)} blocks "
                f"(each halves the side): need in_size >= {2 ** len(self.channels)}"
            )
        self.feature_shape = (self.channels[-1], side, side)
        with _seeded(seed):
            self.features = nn.Sequential()
            width = 1
            for i, c in enumerate(self.channels, start=1):
                block = nn.Sequential()
                block.add_module("conv", nn.Conv2d(width, c, kernel_size, padding=kernel_size // 2))
                block.add_module("relu", nn.ReLU())
                block.add_module("pool", nn.MaxPool2d(2))
                self.features.add_module(f"block{i}", block)
                width = c
            self.classifier = _classifier(width * side * side, num_classes, self.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_size, "CNN2d")
        if x.dim() == 3:
            x = x.unsqueeze(1)
        return self.classifier(self.features(x))

    reset_classifier = CNN.reset_classifier


#: Model constructors by name, for :func:`build_model` and :data:`RECIPES`.
MODELS: dict[str, type[nn.Module]] = {
    "logreg": LogisticRegression,
    "mlp": MLP,
    "cnn": CNN,
    "cnn2d": CNN2d,
}


def build_model(name: str, *, seed: int | None = None, **kwargs) -> nn.Module:
    """Construct a model by name: ``"logreg"``, ``"mlp"``, ``"cnn"`` or ``"cnn2d"``, with keyword arguments.

    Example:
        >>> build_model("mlp", hidden_sizes=(100, 100), seed=0).hidden_sizes
        (100, 100)
    """
    check_choice("name", name, MODELS)
    return MODELS[name](seed=seed, **kwargs)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


#: Training recipes on the standard MNIST-1D split (4000 train / 1000 test), measured by
#: ``benchmarks/bench_mnist1d.py`` on 2 CPU threads. Every recipe: AdamW (``lr`` is the peak rate,
#: ``weight_decay`` decoupled), cross-entropy, the one-cycle schedule stepped once per batch
#: (``torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * batches)``,
#: its default cosine warm-up over 30% of the steps and momentum cycling of beta1), shuffled batches.
#: ``max_shift`` > 0 is the augmentation: each training batch is rolled circularly along the sequence
#: by one random offset in ``[-max_shift, max_shift]`` (MNIST-1D's own translation is circular).
#: Logistic regression and the MLP without augmentation reproduce the paper (32%, 68%); the CNN
#: recipe (wider than the paper's, with shifts) reaches about 98%, above the paper's 94%.
RECIPES: dict[str, dict] = {
    "logreg": {
        "model": "logreg",
        "model_kwargs": {},
        "optimizer": "AdamW",
        "lr": 1e-2,
        "weight_decay": 0.0,
        "schedule": "onecycle",
        "batch_size": 100,
        "epochs": 60,
        "max_shift": 0,
    },
    "mlp": {
        "model": "mlp",
        "model_kwargs": {"hidden_sizes": (100, 100)},
        "optimizer": "AdamW",
        "lr": 1e-2,
        "weight_decay": 0.0,
        "schedule": "onecycle",
        "batch_size": 100,
        "epochs": 60,
        "max_shift": 0,
    },
    "cnn": {
        "model": "cnn",
        "model_kwargs": {"channels": (64, 64, 64), "kernel_sizes": (5, 3, 3)},
        "optimizer": "AdamW",
        "lr": 1e-2,
        "weight_decay": 0.0,
        "schedule": "onecycle",
        "batch_size": 100,
        "epochs": 60,
        "max_shift": 10,
    },
}


class BackboneError(RuntimeError):
    """The shipped backbone is missing, corrupted, or does not fit the model."""


def sha256_of(path) -> str:
    """Hex sha256 digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


_Net = TypeVar("_Net", bound=nn.Module)


def _recreate(pt: Path) -> str:
    """The command that rebuilds the shipped backbone ``pt`` (for error messages)."""
    if pt.name == BACKBONE2D_PT.name:
        return "`python -m course_lib.pretrain --backbone mnist`"
    return "`python -m course_lib.pretrain`"


def backbone_info(path=None) -> dict:
    """The metadata of a backbone (the ``.json`` written beside the ``.pt``), as a dict.

    Args:
        path: the ``.pt`` file (default :data:`BACKBONE_PT`); its ``.json`` sits beside it.
    """
    pt = Path(path) if path is not None else BACKBONE_PT
    meta = pt.with_suffix(".json")
    if not meta.is_file():
        raise BackboneError(
            f"backbone metadata {meta} is missing; recreate it with {_recreate(pt)}"
        )
    return json.loads(meta.read_text())


def load_backbone(model: _Net, path=None, *, freeze: bool = False) -> _Net:
    """Load the pretrained CNN backbone into ``model.features`` after checking its sha256.

    The ``.pt`` holds ``CNN().features.state_dict()`` trained on the transfer source task
    (:func:`course_lib.data.transfer_source`); the ``.json`` beside it records its sha256. The file
    is read with ``torch.load(weights_only=True)``: tensors only, no code. With
    ``path=BACKBONE2D_PT`` it loads the 2-D backbone into a :class:`CNN2d` the same way.

    Args:
        model: a :class:`CNN` (or :class:`CNN2d`) with the backbone's architecture (see
            ``backbone_info(path)["model"]``).
        path: the ``.pt`` file (default :data:`BACKBONE_PT`, located relative to this package).
        freeze: also set ``requires_grad=False`` on the loaded parameters (feature extraction).

    Returns:
        ``model`` (changed in place); its ``classifier`` is untouched.

    Raises:
        BackboneError: file or metadata missing, checksum mismatch, or shapes that do not fit.

    Example:
        >>> model = load_backbone(CNN(**backbone_info()["model"]))
    """
    pt = Path(path) if path is not None else BACKBONE_PT
    if not pt.is_file():
        raise BackboneError(
            f"pretrained backbone {pt} is missing; recreate it with {_recreate(pt)}"
        )
    info = backbone_info(pt)
    expected = info.get("sha256")
    actual = sha256_of(pt)
    if actual != expected:
        raise BackboneError(
            f"checksum mismatch for {pt}: sha256 is {actual} but {pt.with_suffix('.json').name} "
            f"records {expected}; the file is corrupted or was replaced. Recreate both with "
            f"{_recreate(pt)}"
        )
    if not isinstance(model, nn.Module) or not hasattr(model, "features"):
        raise TypeError(
            f"model must be an nn.Module with a `features` part (e.g. a CNN), got {type(model).__name__}"
        )
    state = torch.load(pt, map_location="cpu", weights_only=True)
    arch = "CNN2d" if info.get("architecture") == "cnn2d" else "CNN"
    features = cast(nn.Module, model.features)
    try:
        features.load_state_dict(state)
    except RuntimeError as err:
        raise BackboneError(
            f"the backbone in {pt} does not fit this model ({err}); build the model with "
            f"{arch}(**backbone_info()['model']) = {arch}(**{info.get('model')})"
        ) from err
    if freeze:
        for p in features.parameters():
            p.requires_grad_(False)
    return model


def pretrained_cnn(
    num_classes: int = 10, *, path=None, freeze: bool = False, seed: int | None = None
) -> CNN:
    """A :class:`CNN` with the shipped pretrained backbone and a fresh, randomly initialised head.

    Args:
        num_classes: classes of the target task.
        path: the backbone ``.pt`` (default :data:`BACKBONE_PT`).
        freeze: freeze the backbone (feature extraction: only the head trains).
        seed: seeded initialisation of the head, global generator unchanged.

    Example:
        >>> model = pretrained_cnn(seed=0)
        >>> model.features.block1.conv.weight.requires_grad
        True
    """
    info = backbone_info(path)
    model = CNN(num_classes=num_classes, seed=seed, **info["model"])
    return load_backbone(model, path, freeze=freeze)


def pretrained_cnn2d(
    num_classes: int = 10, *, path=None, freeze: bool = False, seed: int | None = None
) -> CNN2d:
    """A :class:`CNN2d` with the shipped 2-D backbone (pretrained on the MNIST digits) and a fresh head.

    The backbone is :data:`BACKBONE2D_PT` (``python -m course_lib.pretrain --backbone mnist``); its
    inputs are ``backbone_info(BACKBONE2D_PT)["model"]["in_size"]`` pixels a side.

    Args:
        num_classes: classes of the target task.
        path: the backbone ``.pt`` (default :data:`BACKBONE2D_PT`).
        freeze: freeze the backbone (feature extraction: only the head trains).
        seed: seeded initialisation of the head, global generator unchanged.

    Example:
        >>> model = pretrained_cnn2d(seed=0)
        >>> model.in_size, model.feature_shape
        (16, (32, 4, 4))
    """
    pt = Path(path) if path is not None else BACKBONE2D_PT
    info = backbone_info(pt)
    model = CNN2d(num_classes=num_classes, seed=seed, **info["model"])
    return load_backbone(model, pt, freeze=freeze)
