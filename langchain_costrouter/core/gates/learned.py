"""A learned quality gate: P(the cheap answer is good) from features of (prompt, answer).

The model is deliberately small and fully serialisable as JSON (no pickle, so a gate file
named in a config cannot run code): optional PCA projections of the prompt and answer
embeddings, a standard scaler and a logistic regression. Scoring needs only numpy (and
wordllama when the spec uses embeddings); fitting uses scikit-learn.

Gate file (``costrouter calibrate --out gate.json``)::

    {
      "format": "langchain-costrouter/learned-gate",
      "version": 1,
      "threshold": 0.41,                 # escalate when P(good) < threshold
      "features": {FeatureSpec.to_dict()},
      "model": {
        "type": "logistic_regression",
        "columns": [...],                # names of the model's input columns, in order
        "projection": {"prompt": {"mean": [...], "components": [[...]]}, "answer": {...}} | null,
        "scaler": {"mean": [...], "scale": [...]},
        "coef": [...], "intercept": -0.3, "C": 0.1
      },
      "training": {...}                  # free-form metadata: data hash, models, CV metrics
    }
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from langchain_costrouter.core.errors import GateError
from langchain_costrouter.core.gates.base import BaseGate
from langchain_costrouter.core.gates.features import EMBEDDING_DIM, FeatureMatrix, FeatureSpec, extract_features
from langchain_costrouter.core.types import ChatRequest, Completion

__all__ = ["GATE_FILE_FORMAT", "GATE_FILE_VERSION", "GateModel", "LearnedGate", "Projection"]

logger = logging.getLogger(__name__)

GATE_FILE_FORMAT = "langchain-costrouter/learned-gate"
GATE_FILE_VERSION = 1

FloatArray = npt.NDArray[np.float64]


def _array(data: Any, shape: tuple[int, ...], what: str) -> FloatArray:
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"gate file: {what} is not numeric"
        raise GateError(msg) from exc
    if arr.shape != shape or not np.all(np.isfinite(arr)):
        msg = f"gate file: {what} must be a finite array of shape {shape}, got {arr.shape}"
        raise GateError(msg)
    return arr


@dataclass(frozen=True, slots=True)
class Projection:
    """A centred linear projection of embeddings (PCA fitted with the gate)."""

    mean: FloatArray
    components: FloatArray

    def apply(self, emb: FloatArray) -> FloatArray:
        """Projects ``(n, 256)`` embeddings to ``(n, k)``."""
        return np.asarray((emb - self.mean) @ self.components.T, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"mean": self.mean.tolist(), "components": self.components.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], k: int, what: str) -> Projection:
        """Reads :meth:`to_dict` output, checking shapes."""
        return cls(
            _array(data.get("mean"), (EMBEDDING_DIM,), f"{what}.mean"),
            _array(data.get("components"), (k, EMBEDDING_DIM), f"{what}.components"),
        )


@dataclass(frozen=True, slots=True)
class GateModel:
    """The fitted parameters of a learned gate (projection, scaler, logistic regression)."""

    spec: FeatureSpec
    scaler_mean: FloatArray
    scaler_scale: FloatArray
    coef: FloatArray
    intercept: float
    prompt_projection: Projection | None = None
    answer_projection: Projection | None = None
    C: float = 0.1

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the model's input columns."""
        k = self.spec.embedding_components
        emb = tuple(f"prompt_pc{i}" for i in range(k)) + tuple(f"answer_pc{i}" for i in range(k))
        return self.spec.dense_names + emb

    def design(self, feats: FeatureMatrix) -> FloatArray:
        """The (unscaled) model inputs for a feature batch."""
        parts = [feats.dense]
        if self.spec.embedding_components:
            if (
                feats.prompt_emb is None
                or feats.answer_emb is None
                or self.prompt_projection is None
                or self.answer_projection is None
            ):
                msg = "the gate needs embeddings and projections, and the features or the model lack them"
                raise GateError(msg)
            parts += [self.prompt_projection.apply(feats.prompt_emb), self.answer_projection.apply(feats.answer_emb)]
        return np.column_stack(parts) if len(parts) > 1 else parts[0]

    def predict_proba(self, feats: FeatureMatrix) -> FloatArray:
        """P(good) for every row of ``feats``."""
        z = (self.design(feats) - self.scaler_mean) / self.scaler_scale
        logits = np.clip(z @ self.coef + self.intercept, -50.0, 50.0)
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``model`` entry of a gate file)."""
        proj = None
        if self.prompt_projection is not None and self.answer_projection is not None:
            proj = {"prompt": self.prompt_projection.to_dict(), "answer": self.answer_projection.to_dict()}
        return {
            "type": "logistic_regression",
            "columns": list(self.columns),
            "projection": proj,
            "scaler": {"mean": self.scaler_mean.tolist(), "scale": self.scaler_scale.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "C": self.C,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: FeatureSpec) -> GateModel:
        """Reads :meth:`to_dict` output, checking every shape against ``spec``.

        Raises:
            GateError: Wrong model type, columns or shapes.
        """
        if data.get("type") != "logistic_regression":
            msg = f"gate file: unsupported model type {data.get('type')!r}"
            raise GateError(msg)
        k = spec.embedding_components
        pp = ap = None
        if k:
            proj = data.get("projection")
            if not isinstance(proj, Mapping):
                msg = "gate file: the feature spec uses embedding components but model.projection is missing"
                raise GateError(msg)
            pp = Projection.from_dict(proj.get("prompt") or {}, k, "model.projection.prompt")
            ap = Projection.from_dict(proj.get("answer") or {}, k, "model.projection.answer")
        n = len(spec.dense_names) + 2 * k
        scaler = data.get("scaler")
        if not isinstance(scaler, Mapping):
            msg = "gate file: model.scaler is missing"
            raise GateError(msg)
        scale = _array(scaler.get("scale"), (n,), "model.scaler.scale")
        if np.any(scale <= 0):
            msg = "gate file: model.scaler.scale must be positive"
            raise GateError(msg)
        intercept = data.get("intercept")
        if not isinstance(intercept, int | float) or not math.isfinite(intercept):
            msg = "gate file: model.intercept must be a finite number"
            raise GateError(msg)
        model = cls(
            spec,
            _array(scaler.get("mean"), (n,), "model.scaler.mean"),
            scale,
            _array(data.get("coef"), (n,), "model.coef"),
            float(intercept),
            pp,
            ap,
            float(data.get("C", 0.1)),
        )
        if list(data.get("columns", model.columns)) != list(model.columns):
            msg = f"gate file: model.columns {data.get('columns')} do not match the feature spec {list(model.columns)}"
            raise GateError(msg)
        return model

    @classmethod
    def fit(
        cls,
        feats: FeatureMatrix,
        labels: Sequence[float] | FloatArray,
        spec: FeatureSpec,
        *,
        C: float = 0.1,  # noqa: N803 - scikit-learn's name
        seed: int = 0,
    ) -> GateModel:
        """Fits projection, scaler and logistic regression on ``feats``.

        ``labels`` are qualities in [0, 1]: 0/1 for right/wrong, or graded scores, which are
        fitted as soft labels (each item counts as good with weight ``q`` and as bad with
        weight ``1 - q``).

        Raises:
            GateError: Labels out of [0, 1], a length mismatch or a single class.
        """
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels, dtype=np.float64)
        if y.shape != (len(feats),):
            msg = f"{len(feats)} feature rows but labels of shape {y.shape}"
            raise GateError(msg)
        if not np.all((y >= 0) & (y <= 1)):
            msg = "gate labels must be qualities in [0, 1]"
            raise GateError(msg)
        if y.sum() <= 0 or (1 - y).sum() <= 0:
            msg = "cannot fit a gate: every training answer has the same quality"
            raise GateError(msg)
        k = spec.embedding_components
        pp = ap = None
        if k:
            if feats.prompt_emb is None or feats.answer_emb is None:
                msg = "the spec uses embedding components but the features have no embeddings"
                raise GateError(msg)
            if k > min(len(feats), EMBEDDING_DIM):
                msg = f"embedding_components={k} needs at least {k} training items"
                raise GateError(msg)
            pcs = []
            for emb in (feats.prompt_emb, feats.answer_emb):
                pca = PCA(n_components=k, random_state=seed).fit(emb)
                pcs.append(Projection(np.asarray(pca.mean_, np.float64), np.asarray(pca.components_, np.float64)))
            pp, ap = pcs
        proto = cls(spec, np.zeros(1), np.ones(1), np.zeros(1), 0.0, pp, ap, C)
        x = proto.design(feats)
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-12] = 1.0
        z = (x - mean) / scale
        # Soft labels as two weighted copies; hard labels keep one copy (zero weights dropped).
        zz = np.vstack([z, z])
        yy = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
        ww = np.concatenate([y, 1 - y])
        keep = ww > 0
        lr = LogisticRegression(C=C, max_iter=5000)
        lr.fit(zz[keep], yy[keep], sample_weight=ww[keep])
        return cls(spec, mean, scale, np.asarray(lr.coef_[0], np.float64), float(lr.intercept_[0]), pp, ap, C)


class LearnedGate(BaseGate):
    """Scores an answer with a fitted model of P(the answer is good).

    Build one with :meth:`fit` (or :func:`~langchain_costrouter.offline.gate_calibration.calibrate`,
    which also picks the threshold), persist it with :meth:`save` and load it with
    :meth:`load`. The score uses the last user message of the request as the prompt and the
    completion's text as the answer.

    Args:
        model: The fitted parameters.
        threshold: Answers scoring below it fail the gate (are escalated).
        training: Metadata stored in the gate file (data hash, models, CV metrics...).
    """

    name = "learned"

    def __init__(self, model: GateModel, threshold: float = 0.5, *, training: Mapping[str, Any] | None = None) -> None:
        super().__init__(threshold)
        self._model = model
        self._training = dict(training or {})

    @property
    def model(self) -> GateModel:
        """The fitted parameters."""
        return self._model

    @property
    def spec(self) -> FeatureSpec:
        """The features the gate reads."""
        return self._model.spec

    @property
    def training(self) -> dict[str, Any]:
        """Training metadata (a copy)."""
        return dict(self._training)

    @classmethod
    def fit(
        cls,
        prompts: Sequence[str],
        answers: Sequence[str],
        quality: Sequence[float] | FloatArray,
        *,
        spec: FeatureSpec | None = None,
        threshold: float = 0.5,
        C: float = 0.1,  # noqa: N803 - scikit-learn's name
        training: Mapping[str, Any] | None = None,
    ) -> LearnedGate:
        """Fits a gate on answers with known quality (1/0 or scores in [0, 1]).

        Raises:
            GateError: Mismatched lengths, qualities outside [0, 1], or a single class.
        """
        sp = spec or FeatureSpec()
        feats = extract_features(prompts, answers, sp)
        return cls(GateModel.fit(feats, quality, sp, C=C), threshold, training=training)

    def features(self, prompts: Sequence[str], answers: Sequence[str]) -> FeatureMatrix:
        """The gate's features of a batch (see :func:`extract_features`)."""
        return extract_features(prompts, answers, self.spec)

    def predict_proba_batch(self, prompts: Sequence[str], answers: Sequence[str]) -> FloatArray:
        """P(good) of many (prompt, answer) pairs at once (one embedding batch)."""
        return self.model.predict_proba(self.features(prompts, answers))

    def score(self, request: ChatRequest, completion: Completion) -> float:
        """P(the completion is a good answer to the request's last user message)."""
        if completion.tool_calls and not completion.text.strip():
            return 1.0  # nothing textual to judge; validators gate tool calls
        return float(self.predict_proba_batch([request.last_user_text], [completion.text])[0])

    def reason(self, request: ChatRequest, completion: Completion, score: float) -> str:
        """States the predicted probability against the threshold."""
        return f"P(good)={score:.2f} vs threshold {self.threshold:.2f}"

    def to_dict(self) -> dict[str, Any]:
        """The gate file's content."""
        return {
            "format": GATE_FILE_FORMAT,
            "version": GATE_FILE_VERSION,
            "threshold": self.threshold,
            "features": self.spec.to_dict(),
            "model": self.model.to_dict(),
            "training": self._training,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, threshold: float | None = None) -> LearnedGate:
        """Builds a gate from :meth:`to_dict` output; ``threshold`` overrides the stored one.

        Raises:
            GateError: Not a gate file, an unsupported version, or malformed parameters.
        """
        if data.get("format") != GATE_FILE_FORMAT:
            msg = f"not a learned-gate file (format {data.get('format')!r}, expected {GATE_FILE_FORMAT!r})"
            raise GateError(msg)
        if data.get("version") != GATE_FILE_VERSION:
            msg = f"unsupported gate file version {data.get('version')!r} (this build reads {GATE_FILE_VERSION})"
            raise GateError(msg)
        features, model = data.get("features"), data.get("model")
        if not isinstance(features, Mapping) or not isinstance(model, Mapping):
            msg = "gate file: 'features' and 'model' must be objects"
            raise GateError(msg)
        spec = FeatureSpec.from_dict(features)
        stored = data.get("threshold", 0.5)
        t = stored if threshold is None else threshold
        if not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
            msg = f"gate file: threshold must be a number in [0, 1], got {t!r}"
            raise GateError(msg)
        training = data.get("training") or {}
        if not isinstance(training, Mapping):
            msg = "gate file: 'training' must be an object"
            raise GateError(msg)
        return cls(GateModel.from_dict(model, spec), float(t), training=training)

    def save(self, path: str | Path) -> Path:
        """Writes the gate file (JSON) and returns its path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n", encoding="utf-8")
        tmp.replace(p)
        logger.info("saved learned gate to %s", p)
        return p

    @classmethod
    def load(cls, path: str | Path, *, threshold: float | None = None) -> LearnedGate:
        """Reads a gate file written by :meth:`save`; ``threshold`` overrides the stored one.

        Raises:
            GateError: The file is missing, not JSON, or not a valid gate file.
        """
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            msg = f"gate file not found: {p}"
            raise GateError(msg) from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"gate file {p} is not readable JSON: {exc}"
            raise GateError(msg) from exc
        if not isinstance(data, Mapping):
            msg = f"gate file {p} must hold a JSON object"
            raise GateError(msg)
        try:
            return cls.from_dict(data, threshold=threshold)
        except GateError as exc:
            msg = f"{p}: {exc}"
            raise GateError(msg) from exc
