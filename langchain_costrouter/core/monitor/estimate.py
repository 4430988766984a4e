"""Rates with confidence intervals from sampled grades (framework-neutral, numpy-free).

The monitor never grades every answer: it shadows a sample of them. A population of ``M``
answers (e.g. the answers a gate accepted on one route for one tenant) is summarised by a
:class:`Tally`: how many answers there were (``population``), how many were graded
(``graded``) and the sum of their losses (``loss``, a loss being ``1 - grade``, in [0, 1]).
Answers of one tally are assumed sampled with the same probability.

:func:`combine` estimates the mean loss of several tallies together (a stratified estimator:
each stratum's sample loss rate scaled by its population), with a two-sided interval from the
Agresti-Coull adjusted rate of each stratum (so that a stratum with 0 losses in a few samples
still gets a non-zero upper bound) and the finite-population correction (a stratum graded in
full has no sampling error). A stratum with answers but no grade counts at its least-informed
rate (1/2, variance 1/4) so its uncertainty shows in the interval instead of disappearing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["Estimate", "Tally", "combine", "z_value"]


def z_value(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (0.95 -> 1.96)."""
    if not 0.0 < confidence < 1.0:
        msg = f"confidence must be in (0, 1), got {confidence}"
        raise ValueError(msg)
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True, slots=True)
class Tally:
    """Answers of one stratum and the grades of its sampled ones.

    Attributes:
        population: Answers in the stratum (graded or not).
        graded: Answers with a grade.
        loss: Sum of ``1 - grade`` over the graded answers.
    """

    population: float = 0.0
    graded: float = 0
    loss: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.population + other.population, self.graded + other.graded, self.loss + other.loss)

    @property
    def rate(self) -> float | None:
        """The sample loss rate (``None`` without grades)."""
        return self.loss / self.graded if self.graded else None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with a two-sided confidence interval.

    Attributes:
        value: The estimate.
        lo: Lower bound.
        hi: Upper bound.
        graded: Grades it rests on.
        population: Answers it speaks for.
    """

    value: float
    lo: float
    hi: float
    graded: float = 0
    population: float = 0.0

    def complement(self) -> Estimate:
        """``1 - self`` (a loss rate as a quality, bounds swapped)."""
        return Estimate(1.0 - self.value, 1.0 - self.hi, 1.0 - self.lo, self.graded, self.population)

    def scaled(self, factor: float) -> Estimate:
        """Every figure multiplied by ``factor >= 0``."""
        return Estimate(self.value * factor, self.lo * factor, self.hi * factor, self.graded, self.population)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form."""
        return {
            "value": self.value,
            "lo": self.lo,
            "hi": self.hi,
            "graded": self.graded,
            "population": self.population,
        }


def _stratum(t: Tally, z2: float) -> tuple[float, float]:
    """Total loss of a stratum and the variance of that total."""
    m = t.population
    if m <= 0:
        return 0.0, 0.0
    n = min(float(t.graded), m)
    if n <= 0:
        return 0.5 * m, m * m * 0.25
    adjusted = (t.loss + z2 / 2) / (n + z2)
    var_rate = adjusted * (1 - adjusted) / (n + z2)
    fpc = max(0.0, 1.0 - n / m)
    return m * (t.loss / n), m * m * var_rate * fpc


def combine(tallies: Iterable[Tally], *, confidence: float = 0.95, denominator: float | None = None) -> Estimate:
    """The loss rate of several strata together, with its interval.

    Args:
        tallies: The strata (each sampled uniformly within itself).
        confidence: Two-sided confidence of the interval.
        denominator: Divide the total loss by this instead of the total population (e.g. all
            requests of a route, of which the tallies' answers are a part); must be at least
            the total population.

    Returns:
        The estimated loss per unit of ``denominator`` (clipped to [0, 1]); 0 with bounds
        [0, 0] when there is no population.
    """
    z = z_value(confidence)
    z2 = z * z
    total = var = pop = 0.0
    graded = 0.0
    for t in tallies:
        s, v = _stratum(t, z2)
        total += s
        var += v
        pop += t.population
        graded += t.graded
    denom = pop if denominator is None else max(denominator, pop)
    if denom <= 0:
        return Estimate(0.0, 0.0, 0.0, graded, pop)
    half = z * math.sqrt(var)
    value = total / denom
    return Estimate(
        min(1.0, max(0.0, value)),
        min(1.0, max(0.0, (total - half) / denom)),
        min(1.0, max(0.0, (total + half) / denom)),
        graded,
        pop,
    )
