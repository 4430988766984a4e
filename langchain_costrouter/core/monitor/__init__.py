"""The quality monitor: shadow evaluation, quality estimates with intervals, online recalibration.

- :class:`QualityMonitor` (``monitor.py``): the API the request pipeline calls
  (``threshold``, ``observe``, ``record_feedback``, ``close``).
- ``graders.py``: ``agreement``, ``judge`` and ``feedback`` graders.
- ``_spend.py``: the daily spend cap (reserve before a shadow call, settle after).
- ``estimate.py``: stratified loss rates with confidence intervals.
- ``controller.py``: the threshold controller (risk control on an upper confidence bound).
- ``state.py``: the persisted state shared by the processes of one config.
- ``quality.py``: the quality section of ``costrouter report`` (from the ledger).

See docs/monitor.md.
"""

from __future__ import annotations

from langchain_costrouter.core.monitor.controller import ControllerSettings, KeyState, Observation, ThresholdController
from langchain_costrouter.core.monitor.estimate import Estimate, Tally, combine
from langchain_costrouter.core.monitor.graders import AgreementGrader, FeedbackGrader, Grade, Grader, JudgeGrader
from langchain_costrouter.core.monitor.monitor import MonitorStats, QualityMonitor, build_grader
from langchain_costrouter.core.monitor.state import MonitorState, StateStore

__all__ = [
    "AgreementGrader",
    "ControllerSettings",
    "Estimate",
    "FeedbackGrader",
    "Grade",
    "Grader",
    "JudgeGrader",
    "KeyState",
    "MonitorState",
    "MonitorStats",
    "Observation",
    "QualityMonitor",
    "StateStore",
    "Tally",
    "ThresholdController",
    "build_grader",
    "combine",
]
