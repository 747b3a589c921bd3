"""Matplotlib helpers of the course, one submodule per topic.

Import from the submodule (``from course_lib.plots.landscapes import plot_trajectories``) or from here for
the most used ones. Nothing outside ``plots`` and ``widgets`` imports matplotlib.
"""
