"""Numbers and arithmetic in worked answers: parsing, safe evaluation, ``a op b = c`` checks.

Everything here is pure text processing (no ``eval``): expressions are parsed with :mod:`ast`
and only numeric literals, ``+ - * / **`` and unary signs are evaluated, with bounded
exponents. It is deliberately task-agnostic: any answer that writes out arithmetic
("16 - 3 = 13", "9 x $2 = $18", calculator annotations ``<<9*2=18>>``) can be checked.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

__all__ = [
    "ArithmeticCheck",
    "check_arithmetic",
    "extract_numbers",
    "final_answer",
    "normalize_math_text",
    "numbers_close",
    "safe_eval",
]

_NUMBER_STRICT = re.compile(r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+")
_ANNOTATION = re.compile(r"<<([^<>=]{1,200})=([^<>]{1,60})>>")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES = re.compile(r"(?<=[\d)%])\s*[x\u00d7\u2715\u00b7]\s*(?=[\d$(.])")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%")
# Characters an arithmetic expression may contain once text is normalised.
_EXPR_CHARS = frozenset("0123456789. \t\r\n\f\v()+-*/^")
_MAX_EXPR = 200
_EXPR_HEAD = re.compile(r"^[\d.\s()+\-*/^]*")
_OPERATOR = re.compile(r"\d\s*[)]*\s*[-+*/^]\s*[(]*\s*\.?\d")
_STRONG_MARKERS = re.compile(r"####|\\boxed\{|final answer|the answer is|answer\s*:", re.IGNORECASE)

_MAX_EXPONENT = 64
_MAX_ABS = 1e15


@dataclass(slots=True)
class ArithmeticCheck:
    """What the arithmetic checker found in one text.

    Attributes:
        checked: Number of ``expression = value`` claims that could be evaluated.
        wrong: How many of them are wrong (beyond the rounding their stated precision allows).
        last_wrong: Whether the last checked claim is wrong.
        results: Right-hand-side values of every checked claim, in text order.
    """

    checked: int = 0
    wrong: int = 0
    last_wrong: bool = False
    results: list[float] = field(default_factory=list)

    @property
    def last_result(self) -> float | None:
        """The last computed value (right-hand side of the last checked claim)."""
        return self.results[-1] if self.results else None


def normalize_math_text(text: str) -> str:
    """Unifies operators, removes currency signs, markdown escapes and thousands separators."""
    t = text.replace("\\*", "*").replace("\\times", "*").replace("\\div", "/").replace("\\cdot", "*")
    t = t.replace("\u2212", "-").replace("\u2013", "-").replace("\u00f7", "/")
    t = t.replace("$", "").replace("\u20ac", "").replace("\u00a3", "")
    t = _THOUSANDS.sub("", t)
    return _TIMES.sub(" * ", t)


def _eval_node(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _eval_node(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Add):
            r = a + b
        elif isinstance(node.op, ast.Sub):
            r = a - b
        elif isinstance(node.op, ast.Mult):
            r = a * b
        elif isinstance(node.op, ast.Div):
            r = a / b
        elif isinstance(node.op, ast.Pow):
            if abs(b) > _MAX_EXPONENT or abs(a) > _MAX_ABS:
                raise ValueError
            r = a**b
        else:
            raise ValueError
        if isinstance(r, complex) or not math.isfinite(r) or abs(r) > _MAX_ABS:
            raise ValueError
        return float(r)
    raise ValueError


def safe_eval(expr: str) -> float | None:
    """Evaluates a plain arithmetic expression (``"2 + 3 * (4 - 1)"``, ``"50%"``), else ``None``.

    Only numbers, ``+ - * / ^ **``, parentheses and ``%`` (as ``/100``) are understood; anything
    else (names, calls, huge powers, division by zero) gives ``None``.
    """
    e = _PERCENT.sub(r"(\1/100)", normalize_math_text(expr)).replace("^", "**").strip()
    if not e or len(e) > 200:
        return None
    try:
        return _eval_node(ast.parse(e, mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError, MemoryError):
        return None


def _decimals(value_text: str) -> int:
    m = re.search(r"\.(\d+)", value_text)
    return len(m.group(1)) if m else 0


def numbers_close(computed: float, stated: float, stated_decimals: int = 6) -> bool:
    """Whether ``stated`` is ``computed`` rounded to the precision it is written with."""
    tol = 0.5 * 10.0 ** (-stated_decimals) + 1e-9 * max(1.0, abs(computed))
    return abs(computed - stated) <= tol * (1 + 1e-9)


def _strip_unbalanced(expr: str) -> str:
    e = expr.strip()
    # Drop leading operators and closing parentheses that belong to text before the expression.
    while e and (
        e[0] in "+*/^)" or (e[0] in "-." and (len(e) == 1 or not (e[1].isdigit() or (e[0] == "-" and e[1] == "("))))
    ):
        e = e[1:].strip()
    while e.count("(") > e.count(")") and "(" in e:
        e = e[e.index("(") + 1 :].strip()
    while e.count(")") > e.count("(") and e.endswith(")"):
        e = e[:-1].strip()
    while e and e[-1] in "+-*/^(":
        e = e[:-1].strip()
    return e


def _expr_tail(segment: str) -> str:
    """The longest run of expression characters ending the segment (at most 200 characters)."""
    start = len(segment)
    while start > 0 and len(segment) - start < _MAX_EXPR and segment[start - 1] in _EXPR_CHARS:
        start -= 1
    return segment[start:]


def _claim_ok(lhs: float, rhs_text: str, rhs: float) -> bool:
    d = _decimals(rhs_text)
    if numbers_close(lhs, rhs, d):
        return True
    # "x% of y = z" written without the %: accept the percent reading either way.
    return numbers_close(lhs * 100.0, rhs, d) or numbers_close(lhs / 100.0, rhs, d)


def check_arithmetic(text: str) -> ArithmeticCheck:
    """Re-computes every arithmetic claim ``expression = value`` in a worked answer.

    Claims come from calculator annotations (``<<6*10=60>>``) and from inline chains
    (``2 + 1/2 = 5/2 = 2.5``); a side is used only when it is pure arithmetic (numbers,
    operators, parentheses, currency and ``%``), so "3 sprints * 60 meters = 180" is skipped
    rather than guessed. A claim is wrong when the stated value is not the computed one
    rounded to the stated precision.
    """
    out = ArithmeticCheck()
    events: list[tuple[int, float, bool]] = []
    for m in _ANNOTATION.finditer(text):
        lhs = safe_eval(m.group(1))
        rhs = safe_eval(m.group(2))
        if lhs is None or rhs is None:
            continue
        events.append((m.start(), rhs, not _claim_ok(lhs, normalize_math_text(m.group(2)), rhs)))
    plain = _ANNOTATION.sub(" ", text)
    offset_lines = 0
    for line in plain.splitlines(keepends=True):
        norm = _PERCENT.sub(r"(\1/100)", normalize_math_text(line))
        segments = norm.split("=")
        for i in range(len(segments) - 1):
            right = _EXPR_HEAD.match(segments[i + 1][:_MAX_EXPR])
            if right is None:
                continue
            lhs_text = _strip_unbalanced(_expr_tail(segments[i]))
            rhs_text = _strip_unbalanced(right.group(0))
            if not lhs_text or not rhs_text or not _OPERATOR.search(lhs_text):
                continue
            lhs, rhs = safe_eval(lhs_text), safe_eval(rhs_text)
            if lhs is None or rhs is None:
                continue
            events.append((offset_lines + len("=".join(segments[: i + 1])), rhs, not _claim_ok(lhs, rhs_text, rhs)))
        offset_lines += len(line)
    # Annotations and the inline claim they annotate usually repeat each other; keep text order.
    events.sort(key=lambda e: e[0])
    for _, rhs, wrong in events:
        out.checked += 1
        out.wrong += int(wrong)
        out.results.append(rhs)
        out.last_wrong = wrong
    return out


def extract_numbers(text: str) -> list[float]:
    """Every number written in ``text`` (thousands separators, decimals, ``.5``), in order."""
    t = normalize_math_text(_ANNOTATION.sub(" ", text))
    vals = []
    for m in _NUMBER_STRICT.finditer(t):
        try:
            vals.append(float(m.group(0)))
        except ValueError:  # pragma: no cover - the pattern only matches numbers
            continue
    return vals


def final_answer(text: str) -> tuple[float | None, bool]:
    r"""The answer's stated final number and whether it was explicitly marked as final.

    Looks after the last strong marker (``####``, ``\boxed{``, "final answer", "the answer
    is", "Answer:") first; otherwise takes the last number of the text.
    """
    clean = _ANNOTATION.sub(" ", text)
    strong = list(_STRONG_MARKERS.finditer(clean))
    if strong:
        nums = extract_numbers(clean[strong[-1].end() : strong[-1].end() + 80])
        if nums:
            return nums[0], True
    nums = extract_numbers(clean)
    return (nums[-1] if nums else None), False
