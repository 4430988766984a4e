"""Shared test set-up: offline LiteLLM, offline tiktoken, no stray network."""

from __future__ import annotations

import os

# Before anything imports litellm: never fetch the remote price map (offline, reproducible).
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-a-real-key")
