"""``costrouter local-server`` and ``costrouter replay-server``: the local OpenAI-compatible servers.

Both bind 127.0.0.1 by default, print the base URL, and serve until Ctrl-C::

    costrouter local-server --script models.yaml --port 8911 --api-key-env LOCAL_KEY
    costrouter replay-server --data data/gsm8k_routellm/dev.csv --port 8912
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from langchain_costrouter.core.errors import ConfigError

__all__ = ["register"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument(
        "--api-key-env",
        metavar="VAR",
        default=None,
        help="require `Authorization: Bearer $VAR` on /v1/* (the key is read from this variable)",
    )


def register(subparsers: Any) -> None:
    """Adds the ``local-server`` and ``replay-server`` subcommands."""
    from langchain_costrouter.cli._style import add_command, add_data

    local = add_command(
        subparsers,
        "local-server",
        help="serve scripted models on an OpenAI-compatible API on 127.0.0.1",
        description="Serve scripted models (replies, tool calls, JSON output, logprobs, faults) until Ctrl-C or "
        "SIGTERM. The script format is described in docs/local_server.md.",
    )
    local.add_argument(
        "--script", type=Path, default=None, metavar="FILE", help="script file (.yaml/.json; default: echo every model)"
    )
    _add_common(local)
    local.set_defaults(func=_run_local)

    replay = add_command(
        subparsers,
        "replay-server",
        help="replay recorded answers (RouteLLM CSV) on an OpenAI-compatible API on 127.0.0.1",
        description="Answer with recorded responses from a RouteLLM-format CSV; 404 for anything not recorded.",
    )
    add_data(replay, help="RouteLLM-format CSV (prompt, <model>, <model>_response columns)")
    replay.add_argument("--prompt-column", default="prompt", metavar="NAME", help="name of the prompt column")
    _add_common(replay)
    replay.set_defaults(func=_run_replay)


def _api_key(args: argparse.Namespace) -> str | None:
    var = args.api_key_env
    if var is None:
        return None
    key = os.environ.get(var)
    if not key:
        raise ConfigError("--api-key-env", f"environment variable {var} is not set or empty")
    return key


def _serve(script: Any, args: argparse.Namespace, what: str) -> int:
    from langchain_costrouter.cli._signals import stop_on_signals
    from langchain_costrouter.testing.server import LocalOpenAIServer

    server = LocalOpenAIServer(script, host=args.host, port=args.port, api_key=_api_key(args))
    with server:
        print(f"{what} listening on {server.base_url}", flush=True)
        models = server.state.responder.model_names()
        if models:
            print(f"models: {', '.join(models)}", flush=True)
        if server.state.api_key is not None:
            print(f"auth: Bearer key from ${args.api_key_env}", flush=True)
        print("press Ctrl-C (or send SIGTERM) to stop", flush=True)
        with stop_on_signals() as stop:
            stop.wait()
        print("stopping", file=sys.stderr)
    return 0


def _run_local(args: argparse.Namespace) -> int:
    from langchain_costrouter.testing.server import Script

    script = Script.from_file(args.script) if args.script is not None else Script()
    return _serve(script, args, "local OpenAI-compatible server")


def _run_replay(args: argparse.Namespace) -> int:
    from langchain_costrouter.testing.server import ReplayScript

    script = ReplayScript.from_csv(args.data, prompt_column=args.prompt_column)
    return _serve(script, args, "replay server")
