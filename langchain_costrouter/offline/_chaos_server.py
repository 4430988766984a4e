"""The chaos benchmark's server, in a process of its own (as a provider would be).

``python -m langchain_costrouter.offline._chaos_server --bill FILE --port-file FILE ...`` serves
the chaos script (:func:`chaos_script`) with random faults on 127.0.0.1, appends every bill line
to ``--bill`` as JSON, writes its port to ``--port-file`` once it listens, and stops on SIGTERM
or SIGINT (requests still running are cancelled, and billed as abandoned, before it exits).
A process of its own keeps the client's event loop and the server's from sharing one
interpreter lock, so the figures measure the router, not the test server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

__all__ = ["chaos_faults", "chaos_script", "main"]

HARD = "hard question:"
_ENC = "cl100k_base"


def chaos_script() -> Any:
    """The server's three models: a cheap one (bad at the "hard" questions), a premium one, a judge."""
    from langchain_costrouter.testing.server import ModelScript, ReplyRule, Script

    return Script(
        models={
            "chaos-cheap": ModelScript(
                reply="A short answer that covers the main facts of the question asked.",
                rules=(ReplyRule(contains=HARD, reply="Hmm, not sure."),),
                latency_s=0.02,
                token_delay_s=0.002,
                encoding=_ENC,
            ),
            "chaos-premium": ModelScript(
                reply="A careful and complete answer from the premium model, with the facts and their context.",
                latency_s=0.05,
                token_delay_s=0.002,
                encoding=_ENC,
            ),
            "chaos-judge": ModelScript(
                reply="9", rules=(ReplyRule(contains="Hmm, not sure.", reply="2"),), latency_s=0.05, encoding=_ENC
            ),
        },
        strict=True,
    )


def chaos_faults(rate: float, seed: int, timeout_s: float) -> Any:
    """Random faults of every kind; a ``timeout`` holds the request past the client's ``timeout_s``."""
    from langchain_costrouter.testing.server import FaultSpec, RandomFaults

    kinds = [
        (FaultSpec(kind="429", retry_after=0.1), 1.0),
        (FaultSpec(kind="500"), 1.0),
        (FaultSpec(kind="503"), 1.0),
        (FaultSpec(kind="timeout", delay_s=timeout_s + 5.0), 1.0),
        (FaultSpec(kind="slow", delay_s=0.3), 1.0),
        (FaultSpec(kind="broken_stream", after_chunks=4), 1.0),
        (FaultSpec(kind="broken_stream", after_chunks=1), 0.5),
    ]
    return RandomFaults(rate, kinds, seed=seed)


def _write_port(path: Path, port: int) -> None:
    """Writes the port atomically (the parent polls for the file)."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(str(port), encoding="utf-8")
    tmp.replace(path)


async def _serve(args: argparse.Namespace) -> None:
    from langchain_costrouter.testing.server import AsyncLocalOpenAIServer, BillLog

    server = AsyncLocalOpenAIServer(chaos_script(), api_key=args.api_key)
    server.bill = BillLog(path=args.bill)
    server.chaos = chaos_faults(args.fault_rate, args.seed, args.timeout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    _write_port(args.port_file, int(server.port or 0))
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Runs the server until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(prog="python -m langchain_costrouter.offline._chaos_server")
    p.add_argument("--bill", type=Path, required=True)
    p.add_argument("--port-file", type=Path, required=True)
    p.add_argument("--fault-rate", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--api-key", default=None)
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
