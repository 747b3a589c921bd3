"""The three divergences from torch that issue 11 found in course_lib.schedulers, each now torch's.

(a) SequentialLR takes a ChainedScheduler as a child (torch accepts one at construction);
(b) inside a ChainedScheduler every sub-scheduler's ``get_last_lr()`` is torch's: the lr after it
    and the schedulers before it stepped, the last one the chained value;
(c) writing ``CosineAnnealingWarmRestarts.T_cur`` (and ``T_i``) by hand: the next step continues
    from it, as in torch.
"""

from __future__ import annotations

import pytest
import torch
from torch.optim import lr_scheduler as L

from course_lib import schedulers as C


def sgd(lrs=(1.0, 0.3)):
    params = [torch.zeros(1, requires_grad=True) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])


def chain(M, opt):
    return M.ChainedScheduler(
        [
            M.ConstantLR(opt, factor=0.5, total_iters=3),
            M.ExponentialLR(opt, gamma=0.9),
            M.StepLR(opt, step_size=2, gamma=0.5),
        ],
        optimizer=opt,
    )


def assert_close(ours, theirs):
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), rtol=1e-12, atol=0)


def test_sub_schedulers_of_a_chain_report_torchs_last_lr():
    runs = {}
    for M in (C, L):
        opt = sgd()
        chained = chain(M, opt)
        rows = []
        for _ in range(12):
            rows.append([s.get_last_lr() for s in chained._schedulers] + [chained.get_last_lr()])
            opt.step()
            chained.step()
        runs[M] = rows
    assert_close(runs[C], runs[L])
    # what the optimizer uses is the last sub-scheduler's value, not the first one's own
    assert runs[C][2][0] != runs[C][2][-1]
    assert runs[C][2][-2] == runs[C][2][-1]


def test_sequential_lr_takes_a_chained_scheduler_and_runs_it_on_its_own_clock():
    opt = sgd()
    first = C.ConstantLR(opt, factor=0.5, total_iters=3)
    chained = chain(C, opt)
    sequential = C.SequentialLR(opt, [first, chained], milestones=[4])
    ours = []
    for _ in range(12):
        ours.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sequential.step()
    # torch's SequentialLR accepts the chain but raises NotImplementedError at the milestone,
    # so the reference is torch's own pieces: ConstantLR for 4 steps, then the chain from step 0.
    ref_opt = sgd()
    ref_first = L.ConstantLR(ref_opt, factor=0.5, total_iters=3)
    ref = []
    for _ in range(4):
        ref.append([g["lr"] for g in ref_opt.param_groups])
        ref_opt.step()
        ref_first.step()
    ref_opt = sgd()
    ref_chain = chain(L, ref_opt)
    for _ in range(8):
        ref.append([g["lr"] for g in ref_opt.param_groups])
        ref_opt.step()
        ref_chain.step()
    assert_close(ours, ref)
    assert_close([s(11) for s in sequential.lr_schedules()], ours[11])


def test_torchs_sequential_lr_fails_at_the_milestone_into_a_chain():
    """Pins why the test above has no direct torch reference (see docs/differences.md)."""
    opt = sgd()
    first = L.ConstantLR(opt, factor=0.5, total_iters=3)
    sequential = L.SequentialLR(opt, [first, chain(L, opt)], milestones=[2])
    opt.step()
    sequential.step()
    with pytest.raises(NotImplementedError):
        sequential.step()


def test_sequential_lr_with_a_chain_resumes_from_its_state_dict():
    def build():
        opt = sgd()
        return opt, C.SequentialLR(
            opt, [C.ConstantLR(opt, factor=0.5, total_iters=3), chain(C, opt)], milestones=[4]
        )

    opt, sequential = build()
    for _ in range(6):
        opt.step()
        sequential.step()
    opt2, resumed = build()
    resumed.load_state_dict(sequential.state_dict())
    for _ in range(3):
        for o, s in ((opt, sequential), (opt2, resumed)):
            o.step()
            s.step()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def run_restarts(M, T_mult, writes, steps=30):
    opt = sgd()
    scheduler = M.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.01)
    out = []
    for t in range(steps):
        if t in writes:
            scheduler.T_cur, T_i = writes[t]
            if T_i is not None:
                scheduler.T_i = T_i
        out.append([g["lr"] for g in opt.param_groups] + [scheduler.T_cur, scheduler.T_i])
        opt.step()
        scheduler.step()
    return out


@pytest.mark.parametrize(
    ("T_mult", "writes"),
    [
        (1, {5: (0, None)}),  # restart by hand
        (2, {4: (1, None), 13: (5, None)}),  # skip back, then ahead, inside a cycle
        (2, {4: (2, 6)}),  # jump into the next cycle by writing T_i too
        (2, {7: (10, None)}),  # past the end of the cycle: torch restarts once
        (3, {2: (0, None), 9: (4, None)}),
    ],
)
def test_writing_t_cur_by_hand_continues_from_it_like_torch(T_mult, writes):
    ours, theirs = run_restarts(C, T_mult, writes), run_restarts(L, T_mult, writes)
    assert_close(ours, theirs)
    assert ours != run_restarts(C, T_mult, {})  # the write changed the run


def test_writing_t_i_that_is_no_cycle_length_is_refused():
    opt = sgd()
    scheduler = C.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
    scheduler.T_i = 5
    with pytest.raises(ValueError, match=r"^T_i must be one of the cycle lengths"):
        scheduler.step()
