"""The command line as a new user meets it (issue #14): help for every option with its default and
an example per command, ``--version``, and start-up failures as one short line (the real
``gateway serve`` subprocess, no traceback), with "serving on" printed only once the port is bound.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway import __version__
from gateway.cli import build_parser

MAX_ERROR_CHARS = 300


def leaf_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command that runs something (``serve``, ``keys create``, …) with its parser."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaf_parsers(child, (*path, name))


COMMANDS = [path for path, _ in leaf_parsers(build_parser())]


def test_every_contract_command_is_there() -> None:
    names = {" ".join(path) for path in COMMANDS}
    expected = {"serve", "worker", "demo", "simulate", "keys create", "verify", "listen"}
    assert expected <= names
    assert "events send" in names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_names_every_option_with_its_default_and_an_example(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = dict(leaf_parsers(build_parser()))[path]
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*path, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # unwrap argparse's line breaks
    assert "example: gateway" in text or "example: GATEWAY_" in text or "example: PERSON_" in text
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{action.option_strings} has no help"
        assert " ".join(action.help.split()) in text or action.help.split()[0] in text
        if action.required:
            assert "(required)" in action.help, action.option_strings
        elif action.default is not None:
            shown = "on" if action.default is True else "off" if action.default is False else None
            expected = f"(default: {shown if shown else action.default})"
            assert expected in text, f"{action.option_strings}: {expected} not in help"


def run_gateway(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PERSON_"))}
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "serving on" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    [line] = lines
    assert len(line) <= MAX_ERROR_CHARS, line
    for name in names:
        assert name in line, line
    return line


@pytest.mark.slow  # a real subprocess each
def test_version() -> None:
    result = run_gateway("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"person-gateway {__version__}"


@pytest.mark.slow  # a real subprocess each
@pytest.mark.parametrize(
    "url,cause",
    [
        # Nothing listens on port 1: the database is unreachable.
        ("postgresql+psycopg://gateway:hunter2@127.0.0.1:1/gateway", "Connection refused"),
        ("mysql://127.0.0.1/gateway", "No module named"),  # a database this gateway cannot use
        ("not a url", "Could not parse"),
    ],
)
def test_serve_with_a_bad_database_fails_in_one_line(tmp_path: Path, url: str, cause: str) -> None:
    result = run_gateway(
        "serve", "--port", str(free_port()), env=clean_env(GATEWAY_DATABASE_URL=url), cwd=tmp_path
    )
    line = assert_one_line_failure(result, "GATEWAY_DATABASE_URL", cause)
    assert "hunter2" not in line  # the password is masked


@pytest.mark.slow  # a real subprocess each
@pytest.mark.postgres
def test_serve_with_a_missing_database_names_createdb(tmp_path: Path, postgres_ok: bool) -> None:
    if not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/gw_no_such_database"
    result = run_gateway("worker", env=clean_env(GATEWAY_DATABASE_URL=url), cwd=tmp_path)
    assert_one_line_failure(result, "does not exist", "createdb")


@pytest.mark.slow  # a real subprocess each
@pytest.mark.parametrize(
    "name,value",
    [
        ("GATEWAY_POLL_INTERVAL_SECONDS", "soon"),
        ("GATEWAY_ALLOW_PRIVATE_NETWORKS", "10.0.0.0/33"),
        ("GATEWAY_ENCRYPTION_KEY", "not-a-fernet-key"),
    ],
)
def test_serve_with_a_bad_setting_fails_in_one_line(tmp_path: Path, name: str, value: str) -> None:
    result = run_gateway(
        "serve", "--port", str(free_port()), env=clean_env(**{name: value}), cwd=tmp_path
    )
    assert_one_line_failure(result, name)


@pytest.mark.slow  # a real subprocess each
def test_serve_on_a_port_in_use_fails_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_gateway("serve", "--port", str(port), env=clean_env(), cwd=tmp_path)
    assert_one_line_failure(result, str(port), "in use", "--port")
    assert not (tmp_path / "gateway.db").exists()  # it failed before touching the database


@pytest.mark.slow  # a real subprocess each
def test_serving_on_is_printed_once_the_port_answers(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=clean_env(GATEWAY_DATABASE_URL=f"sqlite:///{tmp_path}/gateway.db"),
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the banner (or exit)
        assert line.startswith(f"person-gateway serving on http://127.0.0.1:{port}"), line
        # The moment the line is out, the port answers (no retry loop needed).
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow  # a real subprocess each
@pytest.mark.parametrize(
    "secret",
    [
        "whsec_!!!not-base64!!!",  # the right prefix, a broken body
        "whsec_c2hvcnQ=",  # base64, but far too short a key
        "sk_live_1234",  # no Standard Webhooks prefix at all
    ],
)
def test_verify_with_a_malformed_secret_is_one_line_exit_2(secret: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "verify",
            "--secret",
            secret,
            "--header",
            "webhook-id: evt_1",
            "--header",
            f"webhook-timestamp: {int(time.time())}",
            "--header",
            "webhook-signature: v1,AAAA",
        ],
        input="{}",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bad --secret"), result.stderr
    assert "Traceback" not in result.stderr
