"""The daily spend cap of shadow and grading calls, shared by the processes of one config.

Before a shadow call its upper-bound cost (prompt tokens plus the shadow tier's ``max_tokens``,
at its price, plus the judge's when the grader is a judge) is reserved in the state file under
its lock; the real cost is settled afterwards. A reservation that would pass the cap is refused.
"""

from __future__ import annotations

from langchain_costrouter.core.cascade import estimate_prompt_tokens
from langchain_costrouter.core.config import TierSpec
from langchain_costrouter.core.monitor._events import today
from langchain_costrouter.core.monitor.graders import Grader, JudgeGrader
from langchain_costrouter.core.monitor.state import StateStore
from langchain_costrouter.core.pricing import PriceBook
from langchain_costrouter.core.types import ChatRequest

__all__ = ["SpendCap"]


class SpendCap:
    """Reserves and settles shadow spend per UTC day.

    Args:
        store: Where the day's spend is kept (shared across processes).
        cap_usd: Most that may be spent per day.
        prices: Prices of the shadow tier and the judge.
        shadow: The tier that answers shadows.
        grader: The grader (a judge's call is reserved too).
    """

    def __init__(self, store: StateStore, cap_usd: float, prices: PriceBook, shadow: TierSpec, grader: Grader) -> None:
        self.store = store
        self.cap_usd = cap_usd
        self.prices = prices
        self.shadow = shadow
        self.grader = grader
        self.view: tuple[str, float] = (today(), 0.0)
        """The day and its spend as last seen (read on the request path, never locked)."""

    def exhausted(self, ts: float) -> bool:
        """Whether the day of ``ts`` has already spent the cap (as last seen)."""
        day, spent = self.view
        return day == today(ts) and spent >= self.cap_usd

    def estimate(self, request: ChatRequest) -> tuple[float, int]:
        """Upper-bound cost of shadowing ``request`` and the ``max_tokens`` the shadow call gets."""
        max_out = int(request.params.get("max_tokens") or self.shadow.max_tokens)
        prompt = estimate_prompt_tokens(request)
        usd = self.prices.price(self.shadow.model).estimate(prompt, max_out)
        if isinstance(self.grader, JudgeGrader):
            judge_in = prompt * 3 + 400  # question, two answers, rubric
            usd += self.prices.price(self.grader.client.model).estimate(judge_in, self.grader.max_tokens)
        return usd, max_out

    def reserve(self, usd: float) -> bool:
        """Reserves ``usd`` of today's cap; ``False`` when it would pass the cap."""
        day = today()
        with self.store.transaction() as st:
            spent = st.spend.get(day, 0.0)
            if spent + usd > self.cap_usd:
                self.view = (day, spent)
                return False
            st.spend[day] = spent + usd
            self.view = (day, spent + usd)
        return True

    def settle(self, delta: float) -> None:
        """Corrects today's spend by ``delta`` (real cost minus reservation)."""
        day = today()
        with self.store.transaction() as st:
            st.spend[day] = max(0.0, st.spend.get(day, 0.0) + delta)
            self.view = (day, st.spend[day])
