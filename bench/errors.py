"""The one error a benchmark raises to stop: a functional failure, not a figure that missed its target."""


class BenchError(Exception):
    """A functional failure (a missing build, a crash, a wrong answer): the figures of such a run mean nothing."""
