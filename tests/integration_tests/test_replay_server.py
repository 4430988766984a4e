"""The replay server over real HTTP: recorded GSM8K answers (RouteLLM CSV), 404 for anything else."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import langchain_costrouter
from langchain_costrouter.core.tokens import count_message_tokens, count_tokens
from langchain_costrouter.testing.server import LocalOpenAIServer, ReplayScript

pytestmark = pytest.mark.server

DATA = Path(langchain_costrouter.__file__).parent / "data" / "gsm8k_routellm_dev.csv"
CHEAP = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PREMIUM = "gpt-4-1106-preview"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def server() -> Iterator[LocalOpenAIServer]:
    with LocalOpenAIServer.replay(DATA) as srv:
        yield srv


@pytest.fixture
def client(server: LocalOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)


def test_loading_a_thousand_rows_is_fast(rows: list[dict[str, str]]) -> None:
    start = time.perf_counter()
    replay = ReplayScript.from_csv(DATA)
    elapsed = time.perf_counter() - start
    assert len(rows) > 1000
    assert replay.model_names() == [CHEAP, PREMIUM]
    assert len(replay.prompts(PREMIUM)) == len({r["prompt"] for r in rows if r[f"{PREMIUM}_response"]})
    assert elapsed < 1.0, f"loading took {elapsed:.2f}s"


@pytest.mark.parametrize("model", [CHEAP, PREMIUM])
def test_recorded_answers_are_served_verbatim(client: openai.OpenAI, rows: list[dict[str, str]], model: str) -> None:
    for row in rows[::97]:
        messages = [{"role": "user", "content": row["prompt"]}]
        out = client.chat.completions.create(model=model, messages=messages)
        assert out.choices[0].message.content == row[f"{model}_response"]
        assert out.model == model
        assert out.usage is not None
        assert out.usage.prompt_tokens == count_message_tokens(messages)
        assert out.usage.completion_tokens == count_tokens(row[f"{model}_response"])


def test_provider_prefix_and_whitespace_are_tolerated(client: openai.OpenAI, rows: list[dict[str, str]]) -> None:
    row = rows[5]
    messy = "  " + row["prompt"].replace(" ", "   \n ", 3) + "\n"
    out = client.chat.completions.create(model=f"openai/{PREMIUM}", messages=[{"role": "user", "content": messy}])
    assert out.choices[0].message.content == row[f"{PREMIUM}_response"]
    out = client.chat.completions.create(
        model=f"together_ai/{CHEAP}",
        messages=[{"role": "system", "content": "Solve it."}, {"role": "user", "content": row["prompt"]}],
    )
    assert out.choices[0].message.content == row[f"{CHEAP}_response"]


def test_streaming_replay(client: openai.OpenAI, rows: list[dict[str, str]]) -> None:
    row = rows[11]
    stream = client.chat.completions.create(
        model=PREMIUM,
        messages=[{"role": "user", "content": row["prompt"]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == row[f"{PREMIUM}_response"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(row[f"{PREMIUM}_response"])


def test_unrecorded_prompt_or_model_is_404(client: openai.OpenAI, rows: list[dict[str, str]]) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model=PREMIUM, messages=[{"role": "user", "content": "What is 2 + 2?"}])
    assert info.value.body["code"] == "replay_not_found"
    assert "never invents" in info.value.body["message"]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": rows[0]["prompt"]}])
    assert info.value.body["code"] == "replay_not_found"
    assert info.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model=PREMIUM, messages=[{"role": "user", "content": rows[0]["prompt"] + " Explain."}], stream=True
        )


def test_models_endpoint(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [CHEAP, PREMIUM]


def _free_port() -> int:
    with LocalOpenAIServer() as probe:
        assert probe.port
        return probe.port


def _start_cli(
    args: list[str], env: dict[str, str] | None = None, *, ignore_sigint: bool = False
) -> tuple[subprocess.Popen[str], str]:
    def background_job() -> None:  # what a shell's background job does to its children
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from langchain_costrouter.cli import main; sys.exit(main())", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=background_job if ignore_sigint else None,  # noqa: PLW1509 - only resets a signal
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening on" in line, line + (proc.stderr.read() if proc.stderr else "")
    return proc, line.rsplit(" ", 1)[-1].strip()


def _stop_cli(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_replay_server_cli(rows: list[dict[str, str]]) -> None:
    port = _free_port()
    proc, base_url = _start_cli(["replay-server", "--data", str(DATA), "--port", str(port)])
    try:
        assert base_url == f"http://127.0.0.1:{port}/v1"
        client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
        out = client.chat.completions.create(model=CHEAP, messages=[{"role": "user", "content": rows[2]["prompt"]}])
        assert out.choices[0].message.content == rows[2][f"{CHEAP}_response"]
    finally:
        assert _stop_cli(proc) == 0


def test_local_server_cli_with_script_and_key(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text("models:\n  m:\n    reply: scripted hello\n", encoding="utf-8")
    proc, base_url = _start_cli(
        ["local-server", "--script", str(script), "--api-key-env", "COSTROUTER_TEST_KEY"],
        env={"COSTROUTER_TEST_KEY": "sk-cli"},
    )
    try:
        good = openai.OpenAI(base_url=base_url, api_key="sk-cli", max_retries=0)
        assert good.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]).choices[
            0
        ].message.content == ("scripted hello")
        bad = openai.OpenAI(base_url=base_url, api_key="sk-other", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    finally:
        assert _stop_cli(proc) == 0


@pytest.mark.parametrize(
    ("sig", "ignore_sigint"), [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, True)]
)
def test_local_server_cli_stops_on_signals(sig: signal.Signals, ignore_sigint: bool) -> None:
    proc, base_url = _start_cli(["local-server"], ignore_sigint=ignore_sigint)
    client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    assert client.models.list() is not None
    assert _stop_cli(proc, sig) == 0
    assert proc.stderr is not None and "stopping" in proc.stderr.read()
