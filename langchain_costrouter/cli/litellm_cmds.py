r"""``costrouter litellm-config`` and ``costrouter serve``: the LiteLLM proxy from ``costrouter.yaml``.

Examples::

    costrouter litellm-config -c costrouter.yaml -o litellm-proxy.yaml
    LITELLM_MASTER_KEY=sk-... costrouter serve -c costrouter.yaml --port 4000

``serve`` renders the proxy YAML next to the config (or in ``--out``) and runs the real
``litellm`` proxy on it in the foreground; Ctrl-C stops it. ``bench proxy`` (registered into
``costrouter bench`` when present) measures the hooks' overhead under load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Any

__all__ = ["register", "register_bench"]


def _common(p: argparse.ArgumentParser) -> None:
    from langchain_costrouter.cli._style import add_config

    add_config(p)
    p.add_argument("--no-hooks", action="store_true", help="plain proxy without the costrouter callbacks")
    p.add_argument(
        "--master-key-env",
        default="LITELLM_MASTER_KEY",
        metavar="VAR",
        help="environment variable holding the proxy master key",
    )
    p.add_argument("--no-master-key", action="store_true", help="leave the proxy open (not recommended)")
    p.add_argument("--entry-model", default="costrouter", metavar="NAME", help="model name that asks for task routing")


def _render_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "hooks": not args.no_hooks,
        "master_key_env": None if args.no_master_key else args.master_key_env,
        "entry_model": args.entry_model,
    }


def register(subparsers: Any) -> None:
    """Adds ``litellm-config`` and ``serve``."""
    from langchain_costrouter.cli._style import add_command, add_out

    p = add_command(
        subparsers,
        "litellm-config",
        help="render the LiteLLM proxy YAML (the cascade's entry models, settings) from costrouter.yaml",
        description=__doc__,
    )
    _common(p)
    add_out(p, help="write the proxy YAML here instead of printing it")
    p.set_defaults(func=run_config)

    s = add_command(
        subparsers, "serve", help="start the real LiteLLM proxy with the costrouter hooks", description=__doc__
    )
    _common(s)
    s.add_argument("--host", default="127.0.0.1", help="interface to bind")
    s.add_argument("--port", type=int, default=4000, help="port to listen on")
    add_out(s, help="where to write the proxy YAML (default: litellm-proxy.yaml next to the config)")
    s.set_defaults(func=run_serve)


def run_config(args: argparse.Namespace) -> int:
    """``costrouter litellm-config``."""
    from langchain_costrouter.core.config import CostRouterConfig
    from litellm_hooks.proxy_config import render_proxy_yaml, write_proxy_config

    if args.out is not None:
        path = write_proxy_config(args.config, args.out, **_render_kwargs(args))
        print(f"wrote {path}")
        return 0
    cfg = CostRouterConfig.from_yaml(args.config)
    sys.stdout.write(render_proxy_yaml(cfg, config_path=args.config, **_render_kwargs(args)))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """``costrouter serve``: renders the YAML and runs ``litellm`` in the foreground."""
    from langchain_costrouter.cli._signals import stop_on_signals
    from langchain_costrouter.core.config import CostRouterConfig
    from langchain_costrouter.core.credentials import require_credentials
    from langchain_costrouter.core.errors import ConfigError
    from litellm_hooks.proxy_auth import hardened_env
    from litellm_hooks.proxy_config import write_proxy_config
    from litellm_hooks.proxy_process import litellm_command, stop_process

    if not args.no_master_key and not os.environ.get(args.master_key_env):
        raise ConfigError(args.master_key_env, "set the proxy master key (or pass --no-master-key)")
    require_credentials(CostRouterConfig.from_yaml(args.config))  # not a 500 on every request later
    out = args.out or args.config.resolve().parent / "litellm-proxy.yaml"
    path = write_proxy_config(args.config, out, **_render_kwargs(args))
    # No admin UI, docs pages or OpenAPI schema: a cost router serves completions (and /health).
    env = hardened_env(
        {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP", "True")}
    )
    if not args.no_hooks:
        env["COSTROUTER_CONFIG"] = str(args.config.resolve())
        env["COSTROUTER_ENTRY_MODEL"] = args.entry_model
    cmd = [*litellm_command(), "--config", str(path), "--host", args.host, "--port", str(args.port)]
    print(f"costrouter serve: {path} on http://{args.host}:{args.port}/v1", file=sys.stderr)
    proc = subprocess.Popen(cmd, env=env, cwd=str(path.parent))  # noqa: S603 - fixed command
    with stop_on_signals() as stop:
        while proc.poll() is None and not stop.wait(0.2):
            pass
    if proc.poll() is not None:
        return proc.returncode
    # SIGINT or SIGTERM: stop the proxy child too, so it never keeps the port.
    stop_process(proc)
    return 0


def register_bench(bench_subparsers: Any) -> None:
    """Adds ``costrouter bench proxy`` (see :mod:`langchain_costrouter.offline.proxy_bench`)."""
    from langchain_costrouter.cli._style import add_command, add_progress
    from langchain_costrouter.offline.proxy_bench import add_arguments

    p = add_command(
        bench_subparsers, "proxy", help="throughput of the LiteLLM proxy with the costrouter hooks vs the plain proxy"
    )
    add_arguments(p)
    add_progress(p)
    p.set_defaults(func=run_bench_proxy)


def run_bench_proxy(args: argparse.Namespace) -> int:
    """``costrouter bench proxy``: the benchmark under a progress display."""
    from langchain_costrouter.offline.progress import Steps, progress_enabled
    from langchain_costrouter.offline.proxy_bench import run_cli

    with Steps(enabled=progress_enabled(args.no_progress)) as steps:
        label = f"plain and hooked proxies, {args.rounds} round(s) of {args.requests} requests"
        return steps.run(label, run_cli, args)
