"""The drift experiment: a gate calibrated on one part of the data, streamed on another.

The data is split by a visible proxy (never by the quality columns): the prompt's length or
how many numbers it states, at the median. A learned gate is calibrated on one part for a
quality target, where quality is what the monitor measures: agreement of the served answer with
the premium answer (premium answers count as 1). The other part is then streamed through the
cascade twice with the monitor on (:func:`~.online_loop.run_online`): with the calibrated
threshold fixed (``offline``: monitored, not recalibrated) and with online recalibration
(``online``), in file order and in ``runs`` shuffled orders. Each run reports the realised
quality (agreement, and the data's own quality columns), the cost relative to always-premium
with shadow calls included, and whether the monitor's interval covered the realised value.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from langchain_costrouter.core.errors import DataError
from langchain_costrouter.core.gates._arith import extract_numbers
from langchain_costrouter.core.monitor._extract import agreement
from langchain_costrouter.core.pricing import ModelPrice
from langchain_costrouter.offline._arrays import FloatArray
from langchain_costrouter.offline.data import RoutedDataset
from langchain_costrouter.offline.gate_calibration import calibrate
from langchain_costrouter.offline.online_loop import OnlineResult, OnlineSettings, run_online
from langchain_costrouter.offline.policy_eval import item_costs

__all__ = ["DriftResult", "DriftRun", "agreement_dataset", "run_drift", "split_by_proxy"]

logger = logging.getLogger(__name__)

Proxy = Literal["length", "numbers"]


def split_by_proxy(data: RoutedDataset, proxy: Proxy) -> tuple[list[int], list[int]]:
    """Items at or below the proxy's median, and items above it."""
    if proxy == "length":
        values = np.array([len(p) for p in data.prompts], dtype=np.float64)
    elif proxy == "numbers":
        values = np.array([len(extract_numbers(p)) for p in data.prompts], dtype=np.float64)
    else:
        msg = f"unknown proxy {proxy!r} (length or numbers)"
        raise DataError(msg)
    low = values <= np.median(values)
    return [int(i) for i in np.flatnonzero(low)], [int(i) for i in np.flatnonzero(~low)]


def agreement_dataset(data: RoutedDataset, cheap: str, premium: str) -> RoutedDataset:
    """``data`` with the cheap quality replaced by agreement with the premium answer (premium: 1)."""
    agree = np.array(
        [agreement(a, b) or 0.0 for a, b in zip(data.answers(cheap), data.answers(premium), strict=True)],
        dtype=np.float64,
    )
    return dataclasses.replace(
        data,
        quality={**data.quality, cheap: agree, premium: np.ones(len(data))},
        quality_kind={**data.quality_kind, cheap: "binary", premium: "binary"},
    )


@dataclass(frozen=True, slots=True)
class DriftRun:
    """One stream of the shifted part.

    Attributes:
        policy: ``offline`` (calibrated threshold, fixed) or ``online`` (recalibrated).
        order: ``file`` or the shuffle seed.
        quality_vs_premium: Realised agreement with premium (the monitor's quantity).
        correct_vs_premium: Realised quality from the data's columns, relative to premium's.
        estimate: The monitor's estimate of ``quality_vs_premium`` and its interval.
        covered: Whether the interval contains the realised value.
        cost_vs_premium: Cost (shadows included) relative to always-premium.
        shadow_share: Share of the cost spent on shadow calls.
        premium_call_rate: Share of items answered by premium.
        final_threshold: The threshold at the end of the stream.
        alarms: Alarms raised.
    """

    policy: str
    order: str
    quality_vs_premium: float
    correct_vs_premium: float
    estimate: tuple[float, float, float]
    covered: bool
    cost_vs_premium: float
    shadow_share: float
    premium_call_rate: float
    final_threshold: float
    alarms: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = {k: getattr(self, k) for k in self.__slots__}
        d["estimate"] = list(self.estimate)
        return d


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The whole experiment.

    Attributes:
        proxy: The split proxy.
        calibrate_on: ``low`` or ``high`` part of the proxy.
        n_calibration: Items calibrated on.
        n_stream: Items streamed.
        target_quality: The target.
        calibrated_threshold: The gate's threshold from calibration.
        calibration_cv: Cross-validated quality on the calibration part (agreement).
        runs: Offline and online runs (file order first, then shuffles).
    """

    proxy: str
    calibrate_on: str
    n_calibration: int
    n_stream: int
    target_quality: float
    calibrated_threshold: float
    calibration_cv: float
    runs: tuple[DriftRun, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = {k: getattr(self, k) for k in self.__slots__ if k != "runs"}
        d["runs"] = [r.to_dict() for r in self.runs]
        return d


def _run(policy: str, order: str, out: OnlineResult, q_premium: FloatArray, premium_usd: float) -> DriftRun:
    realised = float(np.mean(out.agreement))
    lo, hi = out.estimate[1], out.estimate[2]
    cost = float(np.sum(out.cost_usd))
    return DriftRun(
        policy,
        order,
        realised,
        float(np.sum(out.quality) / np.sum(q_premium)),
        out.estimate,
        bool(lo - 1e-12 <= realised <= hi + 1e-12),
        cost / premium_usd,
        float(np.sum(out.shadow_usd)) / cost if cost > 0 else 0.0,
        float(np.mean(out.escalated)),
        float(out.thresholds[-1]),
        len(out.alarms),
    )


def run_drift(
    data: RoutedDataset,
    cheap: str,
    premium: str,
    prices: Mapping[str, ModelPrice],
    *,
    proxy: Proxy = "length",
    calibrate_on: Literal["low", "high"] = "high",
    target_quality: float = 0.9,
    shadow_rate: float = 0.2,
    runs: int = 20,
    monitor: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> DriftResult:
    """Calibrates on one part of ``data`` and streams the other (see the module docstring).

    Raises:
        DataError: Unknown models or proxy, or too few items.
        GateError: The gate cannot be fitted.
    """
    low, high = split_by_proxy(data, proxy)
    cal, stream = (low, high) if calibrate_on == "low" else (high, low)
    res = calibrate(agreement_dataset(data, cheap, premium).subset(cal), cheap, premium, target_quality, seed=seed)
    part = data.subset(stream)
    q_premium = part.quality_of(premium)
    premium_usd = float(np.sum(item_costs(part, cheap, premium, prices).premium_usd))
    extra = dict(monitor or {})
    out: list[DriftRun] = []
    rng = np.random.default_rng(seed)
    orders: list[tuple[str, list[int] | None]] = [("file", None)]
    orders += [(f"shuffle {k}", [int(i) for i in rng.permutation(len(part))]) for k in range(1, runs + 1)]
    for policy in ("offline", "online"):
        for k, (name, order) in enumerate(orders):
            if policy == "offline" and order is not None:
                continue  # a fixed threshold serves the same items whatever the order
            settings = OnlineSettings(target_quality, shadow_rate, policy == "online", extra, seed + k)
            result = run_online(part, cheap, premium, res.gate, prices=prices, settings=settings, order=order)
            q = q_premium if order is None else q_premium[order]
            out.append(_run(policy, name, result, q, premium_usd))
            logger.info("drift %s %s: %s", policy, name, out[-1])
    return DriftResult(
        proxy,
        calibrate_on,
        len(cal),
        len(stream),
        target_quality,
        res.threshold,
        res.cv.quality_vs_premium,
        tuple(out),
    )
