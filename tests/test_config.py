"""Typed settings: good values parse, bad ones stop the start with a clear message."""

from __future__ import annotations

import pytest

from hello import create_app
from hello.config import ConfigError, load_settings, worker_count


def test_defaults() -> None:
    """Without any HELLO_* variable, the workshop defaults apply."""
    settings = load_settings()
    assert settings.message is None
    assert settings.faults is True
    assert settings.max_delay == 30
    assert worker_count(settings) == 4
    assert settings.bind == "127.0.0.1:8000"
    assert settings.metrics_bind == "127.0.0.1:8080"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """HELLO_* variables are parsed into typed values."""
    monkeypatch.setenv("HELLO_FAULTS", "off")
    monkeypatch.setenv("HELLO_MAX_DELAY", "2.5")
    monkeypatch.setenv("HELLO_WORKERS", "3")
    monkeypatch.setenv("HELLO_MESSAGE", "Salut")
    settings = load_settings()
    assert (settings.faults, settings.max_delay, settings.workers) == (False, 2.5, 3)
    assert settings.message == "Salut"


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("HELLO_FAULTS", "maybe", "on or off"),
        ("HELLO_MAX_DELAY", "abc", "0 to 300"),
        ("HELLO_MAX_DELAY", "-1", "0 to 300"),
        ("HELLO_WORKERS", "0", "1 to 64"),
        ("HELLO_WORKERS", "four", "1 to 64"),
        ("HELLO_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING or ERROR"),
        ("HELLO_METRICS_BIND", "8080", "HOST:PORT"),
        ("HELLO_CPU_LIMIT", "0", "millicores"),
        ("HELLO_CPU_LIMIT", "1.5", "millicores"),
        ("HELLO_MESSAGE", "", "non-empty"),
    ],
)
def test_bad_value_names_variable_and_accepted_values(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, accepted: str
) -> None:
    """A bad value raises ConfigError naming the variable, its value and what is accepted."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        create_app()
    message = str(caught.value)
    assert f"{variable}={value!r}" in message
    assert accepted in message


def test_every_bad_variable_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two bad values: both named in one message, so one restart fixes them all."""
    monkeypatch.setenv("HELLO_FAULTS", "maybe")
    monkeypatch.setenv("HELLO_WORKERS", "-2")
    with pytest.raises(ConfigError, match=r"HELLO_FAULTS.*HELLO_WORKERS"):
        load_settings()


def test_settings_are_frozen() -> None:
    """Settings are read once at start; nothing changes them afterwards."""
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.workers = 8


@pytest.mark.parametrize(
    ("cpu_limit", "workers"),
    [(None, 4), (100, 1), (250, 1), (500, 2), (1000, 4), (1500, 6), (64000, 64)],
)
def test_workers_follow_the_cpu_limit(cpu_limit: int | None, workers: int) -> None:
    """Without HELLO_WORKERS: 4 workers per CPU of the limit (in millicores), 4 without one."""
    overrides = {} if cpu_limit is None else {"cpu_limit": cpu_limit}
    assert worker_count(load_settings(overrides)) == workers


def test_explicit_workers_win_over_the_cpu_limit() -> None:
    """HELLO_WORKERS, when set, is taken as it is."""
    assert worker_count(load_settings({"workers": 3, "cpu_limit": 2000})) == 3
