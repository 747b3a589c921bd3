"""Matplotlib helpers of the course, one submodule per topic.

Import from the submodule (``from course_lib.plots.landscapes import plot_trajectories``) or from here for
the most used ones. Nothing outside ``plots`` and ``widgets`` imports matplotlib.
"""

from course_lib.plots.schedules import plot_schedule  # noqa: F401
from course_lib.plots.training import (  # noqa: F401
    plot_group_lrs,
    plot_history,
    plot_hparams,
    plot_lr_finder,
)
