"""``avgen serve``: one local server with the HTTP job API and the page (FastAPI + uvicorn).

The page is plain HTML and JavaScript served by FastAPI (``static/``), not Gradio: it needs no
extra package, no front-end build and no network, and it talks to the same documented API as
any other client. The server only calls ``avgen.api``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from avgen.errors import AvgenError
from avgen.serve.app import ServeConfig, create_app
from avgen.serve.models import parse_model_flags
from avgen.serve.schema import Limits

__all__ = ["Limits", "ServeConfig", "create_app", "is_local_host", "run_server"]


def is_local_host(host: str) -> bool:
    """True for a loopback address or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """The token (the flag, else ``AVGEN_TOKEN``); AvgenError when a non-local host has none."""
    token = token or os.environ.get("AVGEN_TOKEN") or None
    if token is not None and len(token) < 8:
        raise AvgenError("the token must be at least 8 characters long.")
    if token is None and not is_local_host(host):
        raise AvgenError(
            f"--host {host} is reachable from other machines: give --token TOKEN or set "
            "AVGEN_TOKEN (or keep the default --host 127.0.0.1)."
        )
    return token


def check_limits(limits: Limits) -> Limits:
    """Each limit must be positive."""
    for name, value in limits.to_dict().items():
        if not value > 0:
            flag = "--" + name.removesuffix("_s").replace("_", "-")
            raise AvgenError(f"{flag} must be more than 0, got {value:g}.")
    return limits


def run_server(
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    results_dir: str | Path = "avgen-results",
    workers: int = 1,
    max_queue: int = 16,
    token: str | None = None,
    models: list[str] | None = None,
    limits: Limits | dict[str, float] | None = None,
    log_level: str = "warning",
    device: str = "cpu",
) -> None:
    """Check the settings, then serve until interrupted (``limits``: a ``Limits`` or its
    fields as a dict)."""
    token = resolve_token(host, token)
    if isinstance(limits, dict):
        limits = check_limits(Limits(**limits))
    if not 0 <= port <= 65535:
        raise AvgenError(f"--port must be from 0 to 65535, got {port}.")
    config = ServeConfig(
        results_dir=Path(results_dir),
        workers=workers,
        max_queue=max_queue,
        token=token,
        models=parse_model_flags(models),
        limits=limits or Limits(),
        device=device,
    )
    app = create_app(config)
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    print(f"avgen serve: http://{shown}:{port}/  (results in {config.results_dir})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
