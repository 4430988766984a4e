"""LiteLLM adapters of langchain-costrouter (router, hooks, cost logger, proxy config)."""
