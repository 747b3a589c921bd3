"""What an optimizer step costs: ours (loop, foreach) against torch's (loop, foreach, compiled).

Run: ``python benchmarks/bench_step_cost.py [--quick] [--no-compile]`` (one thread; a few minutes,
--quick about a minute, plus torch.compile's compile time, which on a busy 2-core machine is minutes). Every number printed is a ratio of two times measured in the same run, candidates timed
in turns (``course_lib.experiments.step_cost.race``: each repeat runs each candidate once, in a
rotating order), so load from other processes hits all of them alike; each ratio is the median of
the per-repeat ratios. Times are this process's CPU time (``time.process_time``, one thread) except
in the bandwidth part, which races the steps against the memory triad by wall clock.

1. 200 small tensors (100 of 64x64 and 100 of 64, about 0.42 M parameters: per-tensor overhead):
   ours/torch for the loops and for foreach (target: ours-foreach / torch-foreach <= 1.0);
2. the same 2^20 elements split into 1, 16, 256 and 2048 tensors: the step time against the number
   of tensors, per variant, relative to torch's foreach step on one tensor;
3. ``torch.compile`` of torch's Adam step (foreach=True) on 20 small tensors (compile time grows
   with the count): its compile time (seconds, the one absolute number) and its step time against
   eager foreach (torch's and ours), or why it fails; in part 4 also on the large tensor;
4. bandwidth on one 10-million-element float32 tensor: the achieved bytes/s of each step (bytes a
   step must move: SGD 3 x 4 bytes per element, with momentum 5 x 4, Adam and AdamW 7 x 4) over the
   bandwidth of the triad a <- a + s b measured in the same race (target >= 70 %).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

import course_lib.optim as ours
from course_lib.experiments.step_cost import (
    bytes_per_step,
    fresh_inductor_cache,
    race,
    roofline,
)

SETTINGS = {
    "SGD": {"lr": 1e-3, "momentum": 0.9},
    "Adam": {"lr": 1e-3},
    "AdamW": {"lr": 1e-3},
}
VARIANTS = {  # name -> (library, foreach)
    "ours loop": (ours, False),
    "ours foreach": (ours, True),
    "torch loop": (torch.optim, False),
    "torch foreach": (torch.optim, True),
}
SMALL = [(64, 64)] * 100 + [(64,)] * 100
COMPILED = [(64, 64)] * 10 + [(64,)] * 10  # compile time grows with the number of tensors
SWEEP_TOTAL = 2**20
SWEEP_COUNTS = (1, 16, 256, 2048)
LARGE = 10_000_000


def compile_now(fn: Callable[[], object]) -> Callable[[], object]:
    """``torch.compile(fn)``, compiled by one call (use it inside ``step_cost.fresh_inductor_cache``)."""
    compiled = torch.compile(fn, dynamic=False)
    compiled()
    return compiled


def make_tensors(shapes, seed: int = 0) -> list[torch.Tensor]:
    """Leaf tensors of the given shapes with fixed random gradients (the same for every seed)."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=gen).requires_grad_()
        p.grad = torch.randn(shape, generator=gen) * 1e-2
        params.append(p)
    return params


def make_optimizer(name: str, variant: str, shapes, **overrides) -> torch.optim.Optimizer:
    library, foreach = VARIANTS[variant]
    kwargs = {**SETTINGS[name], **overrides, "foreach": foreach}
    return getattr(library, name)(make_tensors(shapes), **kwargs)


def steps_of(name: str, shapes, **overrides) -> dict[str, Callable[[], object]]:
    """Every variant's ``step`` on its own fresh copy of the tensors (state created by one step)."""
    fns = {}
    for variant in VARIANTS:
        opt = make_optimizer(name, variant, shapes, **overrides)
        opt.step()
        fns[variant] = opt.step
    return fns


def ratio(timed, a: str, b: str) -> float:
    return timed.ratio(a, b).median


def small_tensors(repeats: int, number: int) -> None:
    print(f"1. 200 small tensors ({sum(torch.Size(s).numel() for s in SMALL):,} parameters)")
    print(f"{'':8}{'ours/torch loop':>17}{'ours/torch foreach':>20}{'foreach/loop ours':>19}")
    for name in SETTINGS:
        timed = race(steps_of(name, SMALL), repeats=repeats, number=number, clock=time.process_time)
        print(
            f"{name:8}{ratio(timed, 'ours loop', 'torch loop'):>17.3f}"
            f"{ratio(timed, 'ours foreach', 'torch foreach'):>20.3f}"
            f"{ratio(timed, 'ours foreach', 'ours loop'):>19.3f}"
        )


def sweep(repeats: int, number: int) -> None:
    print(f"\n2. {SWEEP_TOTAL:,} elements in n tensors: step time / torch foreach's with n = 1")
    for name in ("SGD", "Adam"):
        print(f"{name:8}{'n':>6}" + "".join(f"{v:>15}" for v in VARIANTS))
        base = None
        for count in SWEEP_COUNTS:
            shapes = [(SWEEP_TOTAL // count,)] * count
            timed = race(
                steps_of(name, shapes), repeats=repeats, number=number, clock=time.process_time
            )
            medians = {v: timed.timings[v].median for v in VARIANTS}
            base = base or medians["torch foreach"]
            print(f"{'':8}{count:>6}" + "".join(f"{medians[v] / base:>15.2f}" for v in VARIANTS))


def compiled_adam(repeats: int, number: int) -> None:
    print(
        f"\n3. torch.compile of torch's Adam step (foreach=True) on {len(COMPILED)} small tensors"
    )
    eager = make_optimizer("Adam", "torch foreach", COMPILED)
    target = make_optimizer("Adam", "torch foreach", COMPILED)
    eager.step()
    target.step()
    start = time.perf_counter()
    try:
        compiled = compile_now(target.step)
    except Exception as err:  # report any failure of the compiler stack, keep benchmarking
        print(f"   fails on this machine: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
        return
    print(f"   compile time (first call): {time.perf_counter() - start:.1f} s")
    timed = race(
        {"compiled": compiled, "eager": eager.step, "ours foreach": ours_step(COMPILED)},
        repeats=repeats,
        number=number,
        clock=time.process_time,
    )
    print(f"   compiled / eager torch foreach step time: {ratio(timed, 'compiled', 'eager'):.3f}")
    print(
        f"   compiled / ours foreach step time:        {ratio(timed, 'compiled', 'ours foreach'):.3f}"
    )


def ours_step(shapes) -> Callable[[], object]:
    opt = make_optimizer("Adam", "ours foreach", shapes)
    opt.step()
    return opt.step


def compiled_large(repeats: int) -> str:
    """The bandwidth fraction of torch's compiled Adam step on the large tensor, as table text."""
    opt = make_optimizer("Adam", "torch foreach", [(LARGE,)])
    opt.step()
    start = time.perf_counter()
    try:
        compiled = compile_now(opt.step)
    except Exception as err:  # report any failure of the compiler stack
        return f"compiled Adam fails: {type(err).__name__}"
    seconds = time.perf_counter() - start
    result = roofline(
        {"compiled": (compiled, bytes_per_step("Adam", LARGE))}, LARGE, repeats=repeats
    )
    return f"{result.fraction('compiled').median:.0%} (compile time {seconds:.1f} s)"


def bandwidth(repeats: int, compile_large: bool) -> None:
    print(f"\n4. one tensor of {LARGE:,} float32: achieved bytes/s / triad bytes/s")
    cases = {
        "SGD": ("SGD", {"momentum": 0.0}),
        "SGD momentum": ("SGD", {}),
        "Adam": ("Adam", {}),
        "AdamW": ("AdamW", {}),
    }
    print(f"{'':14}{'bytes/elem':>11}" + "".join(f"{v:>15}" for v in VARIANTS))
    triad = []
    for label, (name, overrides) in cases.items():
        momentum = overrides.get("momentum", SETTINGS[name].get("momentum", 0.0))
        nbytes = bytes_per_step(name, LARGE, momentum=momentum)
        fns = steps_of(name, [(LARGE,)], **overrides)
        result = roofline({v: (fn, nbytes) for v, fn in fns.items()}, LARGE, repeats=repeats)
        triad.append(result.bandwidth("triad"))
        fractions = [result.fraction(v).median for v in VARIANTS]
        print(f"{label:14}{nbytes // LARGE:>11}" + "".join(f"{f:>14.0%} " for f in fractions))
        del fns, result
    print(
        f"   triad bandwidth (median over the four races): {statistics.median(triad) / 1e9:.1f} GB/s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about a minute)")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip torch.compile (minutes on a busy machine)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    repeats, number = (5, 3) if args.quick else (11, 10)
    print(
        f"torch {torch.__version__}, 1 thread, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(f"{repeats} repeats of {number} steps per candidate; medians of per-repeat ratios\n")
    small_tensors(repeats, number)
    sweep(repeats, max(1, number // 3))
    with fresh_inductor_cache():
        if not args.no_compile:
            compiled_adam(repeats, number)
        bandwidth(repeats, compile_large=not args.no_compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
