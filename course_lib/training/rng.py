"""Every RNG state as plain values (torch, CUDA, NumPy, Python, a loader's generators) and seeding."""

from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["loader_generators", "rng_state", "seed_everything", "set_rng_state"]


def loader_generators(loader) -> list[torch.Generator]:
    """The ``torch.Generator``\\ s a DataLoader shuffles with (its own, its sampler's), each once."""
    found: list[torch.Generator] = []
    candidates = [
        getattr(loader, "generator", None),
        getattr(getattr(loader, "sampler", None), "generator", None),
        getattr(
            getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None
        ),
    ]
    for g in candidates:
        if isinstance(g, torch.Generator) and not any(g is f for f in found):
            found.append(g)
    return found


def rng_state(generators=()) -> dict:
    """Every RNG state as plain values: torch CPU, CUDA (when initialised), NumPy, Python, generators.

    Example:
        >>> s = rng_state(); a = torch.rand(1); set_rng_state(s); torch.equal(a, torch.rand(1))
        True
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the global RNG is what we save)
    version, internal, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "python": [int(version), list(internal), py_gauss],
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping, generators=()) -> None:
    """Restore what :func:`rng_state` saved (``generators`` in the same order)."""
    torch.set_rng_state(state["torch"])
    npst = state["numpy"]
    keys = npst["keys"].numpy().astype(np.uint32)
    np.random.set_state(  # noqa: NPY002
        (npst["kind"], keys, npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    saved = state["generators"]
    if len(saved) != len(generators):
        raise ValueError(
            f"the checkpoint saved {len(saved)} DataLoader generator state(s) but the training "
            f"loader has {len(generators)}; create the loader as in the first run (for example "
            "DataLoader(..., shuffle=True, generator=torch.Generator()))"
        )
    for g, s in zip(generators, saved):
        g.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and CUDA) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)  # seeds CUDA too
