"""Comparing training configurations fairly: several seeds each, a tidy table, mean and spread.

A *configuration* is a function of the seed that trains something and returns its metrics,
``run(seed) -> {"test_acc": 0.71, "train_loss": 0.32, ...}``. :func:`run_grid` calls every
configuration with every seed and returns a :class:`Table` with one row per (configuration, seed).
``Table.summary()`` reduces the seeds to, per configuration and metric, the number of runs :math:`n`,
the mean and the spread:

.. math::

    \\bar x = \\frac1n \\sum_{s=1}^n x_s, \\qquad
    \\mathrm{std} = \\sqrt{\\tfrac{1}{n-1} \\textstyle\\sum_s (x_s - \\bar x)^2}, \\qquad
    \\min_s x_s, \\quad \\max_s x_s

(the sample standard deviation; ``nan`` for a single seed, where no spread can be measured). A run
that diverged reports ``nan`` metrics, and a mean over a ``nan`` is ``nan``: divergence is never
averaged away.

Tuning a learning rate is a small sweep: :func:`best_lr` gives every candidate rate the same seeds
and picks the one with the best mean of a *validation* metric. :func:`tune_and_compare` does that for
several optimizers with the same budget (the same number of candidate rates and seeds each), then
evaluates each at its best rate on the evaluation seeds, so the comparison is between tuned methods.

Whether one method beats another is a question about the *paired* differences: every method sees
the same seeds (initialisation, batch order, data split), so :func:`difference` computes
:math:`d_s = a_s - b_s` per seed and a 95 % t-interval of their mean. :func:`assert_better` passes
only when that interval excludes zero, :func:`assert_tie` only when it lies inside a stated margin;
anything else is "not distinguishable with n seeds". :func:`rank` orders several methods and
measures each adjacent pair, so a ranking is printed together with the evidence for each step.

For the course's small classification tasks, :func:`train_classifier` is a compact minibatch
training loop returning train/validation/test metrics, and :func:`holdout` carves a validation set
out of the training data (the test set is only ever used for the final report).

    >>> def run(seed):
    ...     return {"score": 1.0 + 0.1 * seed}
    >>> table = run_grid({"a": run}, seeds=[0, 1, 2])
    >>> round(table.summary().mean("a", "score"), 3), round(table.summary().std("a", "score"), 3)
    (1.1, 0.1)
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from course_lib._validation import check_choice, check_int, check_number
from course_lib.data import Split
from course_lib.training import correct, evaluate, train_step

__all__ = [
    "Comparison",
    "Difference",
    "Ranking",
    "Summary",
    "Sweep",
    "Table",
    "assert_better",
    "assert_tie",
    "best_lr",
    "difference",
    "holdout",
    "paired_difference",
    "rank",
    "run_grid",
    "sweep",
    "train_classifier",
    "tune_and_compare",
]

_STATS = ("n", "mean", "std", "min", "max")


def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be an iterable of integers, got {seeds!r}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed, got an empty sequence")
    for i, s in enumerate(seeds):
        check_int(f"seeds[{i}]", s, low=0)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return seeds


def _check_metrics(name: str, seed: int, metrics) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"configuration {name!r} (seed {seed}) must return a dict of metrics, got "
            f"{type(metrics).__name__}"
        )
    out = {}
    for key, value in metrics.items():
        if key in ("config", "seed"):
            raise ValueError(f"metric name {key!r} is reserved (configuration {name!r})")
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"metric {key!r} of configuration {name!r} (seed {seed}) must be a real number, "
                f"got {value!r}"
            )
        out[str(key)] = float(value)
    return out


def _fmt(value: float, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return format(value, fmt)


@dataclass(frozen=True)
class Table:
    """Tidy results: one row per (configuration, seed), one column per metric.

    Attributes:
        rows: tuple of dicts ``{"config": name, "seed": s, metric: value, ...}``.

    Build it with :func:`run_grid` (or :meth:`from_rows`); reduce it with :meth:`summary`.
    """

    rows: tuple[dict, ...]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping]) -> Table:
        """A table from dicts that each hold ``"config"``, ``"seed"`` and real-valued metrics."""
        clean = []
        for i, row in enumerate(rows):
            if "config" not in row or "seed" not in row:
                raise ValueError(f"rows[{i}] must have 'config' and 'seed' keys, got {sorted(row)}")
            metrics = {k: v for k, v in row.items() if k not in ("config", "seed")}
            clean.append(
                {
                    "config": str(row["config"]),
                    "seed": int(row["seed"]),
                    **_check_metrics(str(row["config"]), int(row["seed"]), metrics),
                }
            )
        return cls(tuple(clean))

    def __len__(self) -> int:
        return len(self.rows)

    def __add__(self, other: Table) -> Table:
        if not isinstance(other, Table):
            return NotImplemented
        return Table(self.rows + other.rows)

    @property
    def configs(self) -> list[str]:
        """Configuration names in first-seen order."""
        return list(dict.fromkeys(r["config"] for r in self.rows))

    @property
    def seeds(self) -> list[int]:
        """Seeds in first-seen order."""
        return list(dict.fromkeys(r["seed"] for r in self.rows))

    @property
    def metrics(self) -> list[str]:
        """Metric names in first-seen order."""
        names: dict[str, None] = {}
        for r in self.rows:
            names.update(dict.fromkeys(k for k in r if k not in ("config", "seed")))
        return list(names)

    def values(self, config: str, metric: str) -> np.ndarray:
        """The metric over the seeds of one configuration, in row order (``nan`` where missing)."""
        check_choice("config", config, self.configs)
        check_choice("metric", metric, self.metrics)
        return np.array([r.get(metric, math.nan) for r in self.rows if r["config"] == config])

    def select(self, configs: Iterable[str] | None = None, seeds: Iterable[int] | None = None):
        """The rows of the given configurations and/or seeds, as a new table."""
        keep_c = None if configs is None else set(configs)
        keep_s = None if seeds is None else set(seeds)
        return Table(
            tuple(
                r
                for r in self.rows
                if (keep_c is None or r["config"] in keep_c)
                and (keep_s is None or r["seed"] in keep_s)
            )
        )

    def summary(self, metrics: Sequence[str] | None = None) -> Summary:
        """Per configuration and metric: n, mean, std (ddof=1; nan for one seed), min, max."""
        metrics = self.metrics if metrics is None else list(metrics)
        for m in metrics:
            check_choice("metric", m, self.metrics)
        stats = {}
        for c in self.configs:
            for m in metrics:
                x = self.values(c, m)
                n = len(x)
                std = float(np.std(x, ddof=1)) if n > 1 else math.nan
                stats[c, m] = {
                    "n": n,
                    "mean": float(np.mean(x)),
                    "std": std,
                    "min": float(np.min(x)),
                    "max": float(np.max(x)),
                }
        return Summary(tuple(self.configs), tuple(metrics), stats)

    def to_text(self, fmt: str = ".3f") -> str:
        """The raw rows as an aligned text table."""
        header = ["config", "seed", *self.metrics]
        body = [
            [r["config"], str(r["seed"])] + [_fmt(r.get(m, math.nan), fmt) for m in self.metrics]
            for r in self.rows
        ]
        return _text_table(header, body)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"Table({len(self.rows)} runs: {len(self.configs)} configs x seeds {self.seeds}; "
            f"metrics {self.metrics})"
        )

    def _repr_html_(self) -> str:
        header = ["config", "seed", *self.metrics]
        body = [
            [r["config"], str(r["seed"])] + [_fmt(r.get(m, math.nan), ".3f") for m in self.metrics]
            for r in self.rows
        ]
        return _html_table(header, body)


@dataclass(frozen=True)
class Summary:
    """Mean and spread over seeds, per configuration and metric (see :meth:`Table.summary`).

    ``summary.get(config, metric)`` is a dict with keys ``n``, ``mean``, ``std``, ``min``, ``max``;
    ``summary.mean(config, metric)`` and friends return one number.
    """

    configs: tuple[str, ...]
    metrics: tuple[str, ...]
    stats: dict

    def get(self, config: str, metric: str) -> dict:
        check_choice("config", config, self.configs)
        check_choice("metric", metric, self.metrics)
        return dict(self.stats[config, metric])

    def mean(self, config: str, metric: str) -> float:
        return self.get(config, metric)["mean"]

    def std(self, config: str, metric: str) -> float:
        return self.get(config, metric)["std"]

    def min(self, config: str, metric: str) -> float:
        return self.get(config, metric)["min"]

    def max(self, config: str, metric: str) -> float:
        return self.get(config, metric)["max"]

    def ranking(self, metric: str, mode: str = "max") -> list[str]:
        """Configurations from best to worst mean of ``metric`` (a ``nan`` mean ranks last)."""
        check_choice("metric", metric, self.metrics)
        check_choice("mode", mode, ("max", "min"))
        sign = -1.0 if mode == "max" else 1.0

        def key(c):
            m = self.stats[c, metric]["mean"]
            return (math.isnan(m), sign * m if not math.isnan(m) else 0.0)

        return sorted(self.configs, key=key)

    def best(self, metric: str, mode: str = "max") -> str:
        """The configuration with the best mean of ``metric``."""
        return self.ranking(metric, mode)[0]

    def rows(self) -> list[dict]:
        """Long format: one dict per (config, metric) with n, mean, std, min, max."""
        return [
            {"config": c, "metric": m, **self.stats[c, m]}
            for c in self.configs
            for m in self.metrics
        ]

    def cell(self, config: str, metric: str, fmt: str = ".3f") -> str:
        """``"mean ± std [min, max]"`` for one configuration and metric."""
        s = self.get(config, metric)
        if s["n"] == 1:
            return _fmt(s["mean"], fmt)
        return (
            f"{_fmt(s['mean'], fmt)} ± {_fmt(s['std'], fmt)} "
            f"[{_fmt(s['min'], fmt)}, {_fmt(s['max'], fmt)}]"
        )

    def _grid(self, metrics, fmt):
        metrics = list(self.metrics if metrics is None else metrics)
        ns = {self.stats[c, m]["n"] for c in self.configs for m in metrics}
        n_note = f"n={ns.pop()}" if len(ns) == 1 else "n varies"
        header = [f"config ({n_note}; mean ± std [min, max])", *metrics]
        body = [[c] + [self.cell(c, m, fmt) for m in metrics] for c in self.configs]
        return header, body

    def to_text(self, metrics: Sequence[str] | None = None, fmt: str = ".3f") -> str:
        """One row per configuration; each cell ``mean ± std [min, max]`` over the seeds."""
        return _text_table(*self._grid(metrics, fmt))

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Summary({len(self.configs)} configs x {len(self.metrics)} metrics)"

    def _repr_html_(self) -> str:
        return _html_table(*self._grid(None, ".3f"))


def _text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in row) + "</tr>" for row in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _progress(iterable, enabled: bool, total: int, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


def run_grid(
    configs: Mapping[str, Callable[[int], Mapping[str, float]]],
    seeds: Iterable[int],
    *,
    progress: bool = False,
) -> Table:
    """Run every configuration with every seed; one row of metrics per run.

    Args:
        configs: name -> ``run(seed)`` returning a dict of real-valued metrics (the same keys for
            every run is usual but not required; missing ones read as ``nan``).
        seeds: distinct non-negative integers, the same for every configuration.
        progress: show a progress bar (tqdm) over the runs.

    Returns:
        A :class:`Table` with rows in the order configs x seeds.

    Example:
        >>> t = run_grid({"x": lambda s: {"m": s}, "y": lambda s: {"m": 2 * s}}, seeds=[1, 2])
        >>> t.summary().mean("y", "m")
        3.0
    """
    if not isinstance(configs, Mapping) or not configs:
        raise TypeError(f"configs must be a non-empty dict of name -> run(seed), got {configs!r}")
    for name, run in configs.items():
        if not callable(run):
            raise TypeError(f"configs[{name!r}] must be callable as run(seed), got {run!r}")
    seeds = _check_seeds(seeds)
    jobs = [(name, seed) for name in configs for seed in seeds]
    rows = []
    for name, seed in _progress(jobs, progress, len(jobs), "runs"):
        metrics = _check_metrics(name, seed, configs[name](seed))
        rows.append({"config": str(name), "seed": seed, **metrics})
    return Table(tuple(rows))


def _value_label(name: str, value: float) -> str:
    return f"{name}={value:g}"


@dataclass(frozen=True)
class Sweep:
    """The result of a sweep over one hyperparameter (a learning rate, a weight decay, ...).

    Attributes:
        name: the hyperparameter's name (``"lr"``).
        values: the candidates, in the order given.
        table: one row per (candidate, seed); configs are labelled ``"lr=0.01"``.
        metric: the metric that was compared; mode: ``"max"`` or ``"min"``.
        scores: the mean of ``metric`` over the seeds, per candidate (``nan`` if any run diverged).
        best: the candidate with the best score.
    """

    name: str
    values: tuple[float, ...]
    table: Table
    metric: str
    mode: str
    scores: tuple[float, ...]
    best: float

    @property
    def at_edge(self) -> bool:
        """True when the best candidate is the smallest or largest one: widen the grid."""
        return len(self.values) > 1 and self.best in (min(self.values), max(self.values))

    def summary(self) -> Summary:
        return self.table.summary()

    def __str__(self) -> str:
        lines = [
            f"{_value_label(self.name, v)}: mean {self.metric} {_fmt(s, '.4f')}"
            + ("  <- best" if v == self.best else "")
            for v, s in zip(self.values, self.scores)
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Sweep({self.name} in {list(self.values)}, best {self.name}={self.best:g} "
            f"by {self.mode} mean {self.metric})"
        )


def _pick(values, scores, mode) -> float:
    sign = -1.0 if mode == "max" else 1.0
    order = sorted(
        range(len(values)),
        key=lambda i: (math.isnan(scores[i]), sign * scores[i] if not math.isnan(scores[i]) else 0),
    )
    return values[order[0]]


def _check_values(name: str, values) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one value, got an empty sequence")
    for i, v in enumerate(values):
        check_number(f"{name}[{i}]", v)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct, got {list(values)}")
    return values


def sweep(
    run: Callable[[float, int], Mapping[str, float]],
    values: Sequence[float],
    seeds: Iterable[int],
    *,
    metric: str,
    mode: str = "max",
    name: str = "value",
    progress: bool = False,
    _cache: dict | None = None,
) -> Sweep:
    """Try every candidate value of one hyperparameter on the same seeds; pick the best mean.

    The score of a candidate :math:`v` is :math:`\\bar m(v) = \\frac1n \\sum_s m(v, s)`; the winner
    is :math:`\\arg\\max_v \\bar m(v)` (``mode="max"``) or the arg min. A candidate with a diverged
    (``nan``) run scores ``nan`` and never wins unless every candidate does.

    Args:
        run: ``run(value, seed)`` returning a dict of metrics that includes ``metric``.
        values: the candidates (distinct finite numbers).
        seeds: the seeds every candidate gets.
        metric: the metric to compare, e.g. ``"val_acc"`` (never a test metric when tuning).
        mode: ``"max"`` or ``"min"``.
        name: the hyperparameter's name, for labels.
        progress: progress bar over the runs.

    Returns:
        A :class:`Sweep`.

    Example:
        >>> s = sweep(lambda v, seed: {"loss": (v - 0.3) ** 2}, [0.1, 0.3, 1.0], [0],
        ...           metric="loss", mode="min", name="lr")
        >>> s.best, s.at_edge
        (0.3, False)
    """
    values = _check_values("values", values)
    seeds = _check_seeds(seeds)
    check_choice("mode", mode, ("max", "min"))
    if not callable(run):
        raise TypeError(f"run must be callable as run(value, seed), got {run!r}")
    cache = {} if _cache is None else _cache
    rows = []
    jobs = [(v, s) for v in values for s in seeds]
    for v, s in _progress(jobs, progress, len(jobs), name):
        if (v, s) not in cache:
            cache[v, s] = _check_metrics(_value_label(name, v), s, run(v, s))
        rows.append({"config": _value_label(name, v), "seed": s, **cache[v, s]})
    table = Table(tuple(rows))
    if metric not in table.metrics:
        raise ValueError(
            f"metric must be one of the metrics the runs return {table.metrics}, got {metric!r}"
        )
    summary = table.summary([metric])
    scores = tuple(summary.mean(_value_label(name, v), metric) for v in values)
    return Sweep(name, values, table, metric, mode, scores, _pick(values, scores, mode))


def best_lr(
    run: Callable[[float, int], Mapping[str, float]],
    lrs: Sequence[float],
    seeds: Iterable[int],
    *,
    metric: str = "val_acc",
    mode: str = "max",
    progress: bool = False,
) -> Sweep:
    """Tune a learning rate on a small grid: :func:`sweep` with ``name="lr"``; ``.best`` is the rate.

    Example:
        >>> s = best_lr(lambda lr, seed: {"val_acc": 1 - abs(lr - 0.01)}, [1e-3, 1e-2, 1e-1], [0])
        >>> s.best
        0.01
    """
    for i, lr in enumerate(_check_values("lrs", lrs)):
        check_number(f"lrs[{i}]", lr, low=0.0, low_inclusive=False)
    return sweep(run, lrs, seeds, metric=metric, mode=mode, name="lr", progress=progress)


@dataclass(frozen=True)
class Comparison:
    """Tuned comparison of several methods (see :func:`tune_and_compare`).

    Attributes:
        searches: method -> its learning-rate :class:`Sweep` on the tuning seeds.
        best: method -> the chosen learning rate.
        table: the evaluation runs, one row per (method, evaluation seed), at each method's best rate;
            its metrics include the chosen value (column ``lr``, or the sweep's ``name``).
    """

    searches: dict
    best: dict
    table: Table

    def summary(self, metrics: Sequence[str] | None = None) -> Summary:
        return self.table.summary(metrics)

    def edges(self) -> list[str]:
        """Methods whose best rate lies at the edge of their grid (the grid may be too narrow)."""
        return [name for name, s in self.searches.items() if s.at_edge]

    def tuning_text(self, fmt: str = ".4f") -> str:
        """Per method, the mean tuning metric for every candidate rate; the chosen one starred."""
        rows = []
        for name, s in self.searches.items():
            cells = [
                f"{v:g}: {_fmt(sc, fmt)}{'*' if v == s.best else ''}"
                for v, sc in zip(s.values, s.scores)
            ]
            rows.append([name, *cells])
        width = max(len(r) for r in rows)
        header = ["method"] + [f"candidate {i + 1}" for i in range(width - 1)]
        rows = [r + [""] * (width - len(r)) for r in rows]
        return _text_table(header, rows)


def tune_and_compare(
    runs: Mapping[str, Callable[[float, int], Mapping[str, float]]],
    grids: Mapping[str, Sequence[float]],
    *,
    tune_seeds: Iterable[int],
    eval_seeds: Iterable[int],
    metric: str = "val_acc",
    mode: str = "max",
    equal_budget: bool = True,
    name: str = "lr",
    progress: bool = False,
) -> Comparison:
    """Tune each method's learning rate on its grid, then evaluate every method at its best rate.

    1. For each method, :func:`best_lr` over its grid on ``tune_seeds``, scored by ``metric``
       (a validation metric).
    2. Each method at its chosen rate on ``eval_seeds``; report whatever the runs return (e.g. test
       accuracy, which played no part in the choice).

    Runs must be deterministic functions of ``(lr, seed)``: an evaluation seed that was also a tuning
    seed reuses the tuning run instead of training the same thing twice.

    Args:
        runs: method name -> ``run(lr, seed)`` returning a metrics dict.
        grids: method name -> candidate learning rates (same keys as ``runs``).
        tune_seeds, eval_seeds: seeds for the two stages.
        metric, mode: what the tuning maximises (or minimises).
        equal_budget: require every grid to have the same number of candidates (a fair budget).
        name: the tuned hyperparameter's name (``"lr"``; e.g. ``"weight_decay"`` to tune a
            regularization strength the same way).
        progress: progress bars.

    Returns:
        A :class:`Comparison`.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError(f"runs must be a non-empty dict of name -> run(lr, seed), got {runs!r}")
    if not isinstance(grids, Mapping) or set(grids) != set(runs):
        got = sorted(grids) if isinstance(grids, Mapping) else grids
        raise ValueError(f"grids must have the same keys as runs {sorted(runs)}, got {got}")
    sizes = {m: len(tuple(grids[m])) for m in runs}
    if equal_budget and len(set(sizes.values())) > 1:
        raise ValueError(
            f"grids must all have the same number of candidates when equal_budget=True, got {sizes}"
        )
    tune_seeds = _check_seeds(tune_seeds)
    eval_seeds = _check_seeds(eval_seeds)
    searches, best, rows = {}, {}, []
    for method, run in runs.items():
        cache: dict = {}
        s = sweep(
            run,
            grids[method],
            tune_seeds,
            metric=metric,
            mode=mode,
            name=name,
            progress=progress,
            _cache=cache,
        )
        searches[method], best[method] = s, s.best
        for seed in eval_seeds:
            if (s.best, seed) not in cache:
                cache[s.best, seed] = _check_metrics(method, seed, run(s.best, seed))
            rows.append(
                {"config": method, "seed": seed, name: float(s.best), **cache[s.best, seed]}
            )
    return Comparison(searches, best, Table(tuple(rows)))


def holdout(split: Split, fraction: float = 0.2, seed: int = 0) -> tuple[Split, tuple]:
    """Carve a validation set out of the training data; the test set is left alone.

    Args:
        split: the data.
        fraction: share of the training examples moved to the validation set, in (0, 1).
        seed: seed of the random choice.

    Returns:
        ``(fit_split, (x_val, y_val))``: ``fit_split`` has the remaining training examples and the
        original test set.

    Example:
        >>> from course_lib.data import mnist1d
        >>> fit, (xv, yv) = holdout(mnist1d(), fraction=0.2)
        >>> len(fit.y_train), len(yv)
        (3200, 800)
    """
    check_number("fraction", fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    check_int("seed", seed, low=0)
    n = len(split.y_train)
    n_val = round(n * fraction)
    if not 0 < n_val < n:
        raise ValueError(
            f"fraction={fraction} leaves an empty training or validation set for n={n}"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, fit = perm[:n_val], perm[n_val:]
    fit_split = Split(split.x_train[fit], split.y_train[fit], split.x_test, split.y_test)
    return fit_split, (split.x_train[val], split.y_train[val])


def _fit_epochs(model, optimizer, x, y, *, epochs, batch_size, generator, penalty) -> bool:
    """Minibatch steps over ``epochs`` shuffled passes; ``True`` when a non-finite loss stopped them."""
    n = len(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            if not train_step(model, optimizer, x[idx], y[idx], penalty=penalty).finite:
                return True
    return False


def _final_metrics(model, sets, diverged: bool, measure) -> dict[str, float]:
    """``<set>_loss`` / ``<set>_acc`` of each ``(label, x, y)`` in eval mode, then ``measure(model)``."""
    out = {}
    for label, xs, ys in sets:
        scores = evaluate(model, [(xs, ys)], metrics={"acc": correct})
        loss = scores["loss"]
        out[f"{label}_loss"] = math.nan if diverged or not math.isfinite(loss) else loss
        out[f"{label}_acc"] = scores["acc"]
    if measure is not None:
        model.eval()
        with torch.no_grad():
            extra = dict(measure(model))
        clash = sorted(set(extra) & (set(out) | {"gap", "diverged"}))
        if clash:
            raise ValueError(f"measure must not return the built-in metric names {clash}")
        out.update(extra)
    return out


def train_classifier(
    make_model: Callable[[], torch.nn.Module],
    make_optimizer: Callable,
    split: Split,
    *,
    epochs: int,
    batch_size: int = 128,
    seed: int = 0,
    val: tuple | None = None,
    penalty: Callable[[torch.nn.Module], torch.Tensor] | None = None,
    measure: Callable[[torch.nn.Module], Mapping[str, float]] | None = None,
    channels: bool = False,
) -> dict[str, float]:
    """Train a classifier with minibatch steps and return its final metrics (one comparison run).

    The model is built and trained under ``torch.manual_seed(seed)`` inside a forked RNG (the
    caller's global RNG is left untouched), and the batches are drawn from a generator seeded with
    ``seed``: the same arguments give the same numbers. Each step minimises the cross-entropy
    :math:`f(\\theta)` of the batch plus ``penalty(model)`` (e.g. an L1 term :math:`\\lambda
    \\sum |\\theta|`). A non-finite loss stops training and marks the run as diverged.

    Args:
        make_model: builds the model (called after seeding).
        make_optimizer: builds the optimizer from ``model.parameters()``, e.g.
            ``functools.partial(course_lib.optim.Adam, lr=1e-3)``.
        split: training data (``x_train``, ``y_train``) and test data (``x_test``, ``y_test``).
        epochs: passes over the training data (>= 1).
        batch_size: examples per step (>= 1).
        seed: seed of the initialisation, dropout and batch order.
        val: optional ``(x_val, y_val)`` (from :func:`holdout`) for tuning.
        penalty: optional ``penalty(model) -> scalar tensor`` added to the training loss.
        measure: optional ``measure(model) -> {name: number}``, called on the trained model; its
            entries join the returned metrics (e.g. the fraction of weights near zero).
        channels: add a channel axis ``(n, 1, length)`` for 1-D convolutions.

    Returns:
        Metrics measured at the end in eval mode: ``train_loss``, ``train_acc``, ``test_loss``,
        ``test_acc``, ``gap`` (train_acc - test_acc), ``val_loss``/``val_acc`` when ``val`` is given,
        and ``diverged`` (1.0 or 0.0). Losses are the data cross-entropy without the penalty; they
        are ``nan`` after a divergence.

    Example:
        >>> import functools
        >>> from course_lib.data import mnist1d
        >>> from course_lib.optim import Adam
        >>> def mlp():
        ...     return torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        >>> m = train_classifier(mlp, functools.partial(Adam, lr=1e-2), mnist1d(), epochs=1)
        >>> m["test_acc"] > 0.15
        True
    """
    check_int("epochs", epochs, low=1)
    check_int("batch_size", batch_size, low=1)
    check_int("seed", seed, low=0)
    if not callable(make_model) or not callable(make_optimizer):
        raise TypeError("make_model and make_optimizer must be callable")

    def prep(x):
        return x.unsqueeze(1) if channels else x

    x, y = prep(split.x_train), split.y_train
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make_model()
        optimizer = make_optimizer(model.parameters())
        g = torch.Generator().manual_seed(seed)
        diverged = _fit_epochs(
            model,
            optimizer,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            generator=g,
            penalty=penalty,
        )
        sets = [("train", x, y), ("test", prep(split.x_test), split.y_test)]
        if val is not None:
            sets.append(("val", prep(val[0]), val[1]))
        out = _final_metrics(model, sets, diverged, measure)
    out["gap"] = out["train_acc"] - out["test_acc"]
    out["diverged"] = float(diverged or not math.isfinite(out["train_loss"]))
    return out


# --- Paired comparisons over seeds ----------------------------------------------------------------
#
# Two methods run on the same seeds (same initialisation, same batches, same data split) give paired
# results a_s, b_s. The seed-to-seed spread that both share cancels in the difference d_s = a_s - b_s,
# so the interval of the mean difference is much narrower than the two separate error bars suggest.


@dataclass(frozen=True)
class Difference:
    """The mean paired difference ``a - b`` over seeds, with a two-sided t-interval.

    With :math:`d_s = a_s - b_s` over :math:`n` seeds,

    .. math::

        \\bar d = \\frac1n \\sum_s d_s, \\qquad
        \\bar d \\pm t_{n-1,\\,(1+c)/2} \\, \\frac{\\mathrm{std}(d)}{\\sqrt n}

    (Student's t with :math:`n-1` degrees of freedom, confidence :math:`c`, 95 % by default). The
    interval assumes the differences are roughly normal; with few seeds it is wide, which is the
    point: it only excludes zero when the effect is large against its seed-to-seed noise.

    Attributes:
        a, b: names of the two methods; metric: what was compared.
        diffs: the paired differences :math:`d_s`, in seed order; seeds: those seeds.
        mean, low, high: :math:`\\bar d` and the interval's ends; level: :math:`c`.
    """

    a: str
    b: str
    metric: str
    seeds: tuple[int, ...]
    diffs: tuple[float, ...]
    mean: float
    low: float
    high: float
    level: float

    @property
    def n(self) -> int:
        return len(self.diffs)

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def within(self, margin: float) -> bool:
        """True when the whole interval lies inside ``[-margin, margin]``."""
        return -margin <= self.low and self.high <= margin

    def verdict(self, margin: float | None = None, mode: str = "max") -> str:
        """What the numbers support, in words.

        ``"a better than b"`` or ``"b better than a"`` (interval excludes zero; ``mode="max"``:
        higher is better), ``"a and b tie within ±margin"`` (interval inside the margin),
        otherwise ``"a and b are not distinguishable with n seeds"``.
        """
        check_choice("mode", mode, ("max", "min"))
        if self.excludes_zero():
            a_wins = (self.mean > 0) == (mode == "max")
            first, second = (self.a, self.b) if a_wins else (self.b, self.a)
            return f"{first} better than {second}"
        if margin is not None and self.within(margin):
            return f"{self.a} and {self.b} tie within ±{margin:g}"
        return f"{self.a} and {self.b} are not distinguishable with {self.n} seeds"

    def __str__(self) -> str:
        return (
            f"{self.a} - {self.b} ({self.metric}): {self.mean:+.4f}, "
            f"{self.level:.0%} t-interval [{self.low:+.4f}, {self.high:+.4f}] over {self.n} paired seeds"
        )


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    level: float = 0.95,
    names: tuple[str, str] = ("a", "b"),
    metric: str = "value",
    seeds: Sequence[int] | None = None,
) -> Difference:
    """The mean of ``a[i] - b[i]`` with a t-interval (``a[i]`` and ``b[i]`` from the same seed).

    Args:
        a, b: results of the two methods, paired by position (at least 2 each, finite).
        level: confidence of the interval, in (0, 1).
        names: the two methods' names, for messages; metric: the metric's name.
        seeds: the seeds of the pairs (default 0, 1, ...).

    Example:
        >>> d = paired_difference([0.71, 0.745, 0.708], [0.69, 0.72, 0.69])
        >>> round(d.mean, 4), d.excludes_zero()
        (0.021, True)
    """
    from scipy import stats

    check_number("level", level, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    xa = np.asarray(a, dtype=float)
    xb = np.asarray(b, dtype=float)
    if xa.ndim != 1 or xa.shape != xb.shape:
        raise ValueError(
            f"a and b must be 1-D sequences of the same length, got {xa.shape} and {xb.shape}"
        )
    if len(xa) < 2:
        raise ValueError(f"a paired interval needs at least 2 seeds, got {len(xa)}")
    d = xa - xb
    if not np.all(np.isfinite(d)):
        raise ValueError(f"a and b must be finite (a diverged run has no difference), got d={d}")
    seeds = tuple(range(len(d))) if seeds is None else tuple(int(s) for s in seeds)
    mean = float(d.mean())
    half = float(stats.t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Difference(
        str(names[0]),
        str(names[1]),
        metric,
        seeds,
        tuple(map(float, d)),
        mean,
        mean - half,
        mean + half,
        float(level),
    )


def difference(table: Table, a: str, b: str, metric: str, *, level: float = 0.95) -> Difference:
    """:func:`paired_difference` of two configurations of ``table``, paired on their seeds.

    Raises ``ValueError`` unless both configurations ran on the same seeds (an unpaired comparison
    is not what this measures).
    """
    by_seed = {}
    for name in (a, b):
        check_choice("config", name, table.configs)
        by_seed[name] = {
            r["seed"]: r.get(metric, math.nan) for r in table.rows if r["config"] == name
        }
    check_choice("metric", metric, table.metrics)
    if set(by_seed[a]) != set(by_seed[b]):
        raise ValueError(
            f"configs {a!r} and {b!r} must share their seeds to be paired, got "
            f"{sorted(by_seed[a])} and {sorted(by_seed[b])}"
        )
    seeds = sorted(by_seed[a])
    return paired_difference(
        [by_seed[a][s] for s in seeds],
        [by_seed[b][s] for s in seeds],
        level=level,
        names=(a, b),
        metric=metric,
        seeds=seeds,
    )


def _as_difference(source, a, b, metric, level) -> Difference:
    if isinstance(source, Difference):
        return source
    if isinstance(source, Comparison):
        source = source.table
    if not isinstance(source, Table):
        raise TypeError(f"expected a Table, Comparison or Difference, got {type(source).__name__}")
    if a is None or b is None or metric is None:
        raise TypeError("a, b and metric are needed when comparing the configurations of a table")
    return difference(source, a, b, metric, level=level)


def assert_better(
    source,
    a: str | None = None,
    b: str | None = None,
    metric: str | None = None,
    *,
    mode: str = "max",
    level: float = 0.95,
) -> Difference:
    """Assert that ``a`` beats ``b``: the paired interval of ``a - b`` excludes zero on a's side.

    ``source`` is a :class:`Table` or :class:`Comparison` (then ``a``, ``b``, ``metric`` name the
    configurations and the metric) or a ready :class:`Difference`. ``mode="min"`` for losses.
    Returns the difference so the notebook can print it; the AssertionError quotes the interval.

    Example:
        >>> t = Table.from_rows([{"config": c, "seed": s, "acc": v} for c, s, v in
        ...      [("x", 0, 0.80), ("x", 1, 0.83), ("x", 2, 0.79), ("y", 0, 0.70), ("y", 1, 0.74), ("y", 2, 0.70)]])
        >>> assert_better(t, "x", "y", "acc").excludes_zero()
        True
    """
    check_choice("mode", mode, ("max", "min"))
    d = _as_difference(source, a, b, metric, level)
    wins = d.low > 0 if mode == "max" else d.high < 0
    if not wins:
        raise AssertionError(
            f"{d.a} is not shown better than {d.b} ({mode}): {d}; {d.verdict(mode=mode)}"
        )
    return d


def assert_tie(
    source,
    a: str | None = None,
    b: str | None = None,
    metric: str | None = None,
    *,
    margin: float,
    level: float = 0.95,
) -> Difference:
    """Assert that ``a`` and ``b`` tie: the paired interval of ``a - b`` lies inside ``±margin``.

    A tie is a claim too: that any difference is smaller than ``margin``. An interval that is merely
    wide (few seeds, noisy runs) does not pass; it is "not distinguishable", which says less.
    """
    check_number("margin", margin, low=0.0, low_inclusive=False)
    d = _as_difference(source, a, b, metric, level)
    if not d.within(margin):
        raise AssertionError(f"{d.a} and {d.b} are not shown to tie within ±{margin:g}: {d}")
    return d


@dataclass(frozen=True)
class Ranking:
    """Configurations ordered by mean, with the paired interval between each adjacent pair.

    ``order`` is best first; ``steps[i]`` is the :class:`Difference` of ``order[i]`` minus
    ``order[i + 1]``; ``separated[i]`` says whether that interval excludes zero. Only a fully
    separated ranking (:attr:`strict`) is a ranking; otherwise print it and say which neighbours are
    not distinguishable.
    """

    metric: str
    mode: str
    order: tuple[str, ...]
    means: tuple[float, ...]
    steps: tuple[Difference, ...]

    @property
    def separated(self) -> tuple[bool, ...]:
        return tuple(d.excludes_zero() for d in self.steps)

    @property
    def strict(self) -> bool:
        return all(self.separated)

    def groups(self) -> list[list[str]]:
        """The order cut where adjacent pairs are separated: ``[["Adam", "NAdam"], ["SGD"]]``."""
        out = [[self.order[0]]]
        for name, sep in zip(self.order[1:], self.separated):
            if sep:
                out.append([name])
            else:
                out[-1].append(name)
        return out

    def __str__(self) -> str:
        width = max(len(c) for c in self.order)
        n = self.steps[0].n if self.steps else 0
        lines = [
            f"ranking by {self.metric} ({self.mode}), {self.steps[0].level:.0%} paired t-intervals, n={n}"
        ]
        for i, (name, mean) in enumerate(zip(self.order, self.means)):
            lines.append(f"{i + 1}. {name.ljust(width)}  mean {mean:.4f}")
            if i < len(self.steps):
                d = self.steps[i]
                word = "separated" if d.excludes_zero() else "not distinguishable"
                lines.append(
                    f"   {'>' if d.excludes_zero() else '~'} next by {abs(d.mean):.4f} "
                    f"[{d.low:+.4f}, {d.high:+.4f}]  {word}"
                )
        return "\n".join(lines)


def rank(source, metric: str, *, mode: str = "max", level: float = 0.95) -> Ranking:
    """Order the configurations of a :class:`Table` (or :class:`Comparison`) by mean ``metric``
    and measure each adjacent pair with a paired interval (see :class:`Ranking`)."""
    check_choice("mode", mode, ("max", "min"))
    table = source.table if isinstance(source, Comparison) else source
    if not isinstance(table, Table):
        raise TypeError(f"source must be a Table or Comparison, got {type(source).__name__}")
    summary = table.summary([metric])
    order = tuple(summary.ranking(metric, mode))
    steps = tuple(
        difference(table, order[i], order[i + 1], metric, level=level)
        for i in range(len(order) - 1)
    )
    means = tuple(summary.mean(c, metric) for c in order)
    return Ranking(metric, mode, order, means, steps)
