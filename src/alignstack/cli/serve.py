"""`alignstack serve`: the alignment proxy, an OpenAI-compatible API on loopback (or any host)
whose answers went through the stack; `alignstack audit-export`: its corrected requests as
preference records."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors


@handle_errors
def serve(
    config: Optional[Path] = typer.Option(None, "--config", "-c",
                                          help="serve.yaml (see alignstack.serve.config)."),
    model: Optional[str] = typer.Option(None, help="Without --config: the upstream to serve "
                                                   "bare (built-in name, path, .gguf, hub id)."),
    name: Optional[str] = typer.Option(None, help="Model id announced on /v1/models."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    hash_key: Optional[str] = typer.Option(None, "--hash-key",
                                           help="Print the hash of an API key for api_keys "
                                                "and exit."),
    no_auth: bool = typer.Option(False, "--no-auth",
                                 help="Serve without API keys (loopback only; development)."),
    ray: bool = typer.Option(False, "--ray", help="Deploy as a Ray Serve application (a local Ray "
                                                  "instance, or the cluster at RAY_ADDRESS)."),
    replicas: int = typer.Option(2, min=1, help="--ray: replicas of the proxy."),
    cpus_per_replica: float = typer.Option(1.0, help="--ray: CPUs reserved per replica."),
) -> None:
    """Serve /v1/chat/completions (+stream), /v1/models, /healthz, /readyz, /metrics.

    Needs an API key (api_keys in --config) unless --no-auth asks for an open server on
    loopback."""
    from alignstack.serve.config import ServeConfig, check_auth, load_serve_config
    from alignstack.serve.keys import hash_key as hashed

    if hash_key:
        console.print(hashed(hash_key))
        return
    cfg = load_serve_config(config) if config else ServeConfig()
    updates: dict = {}
    if model:
        updates["stack"] = cfg.stack.model_copy(update={"upstream": model})
    if name:
        updates["model_name"] = name
    cfg = cfg.model_copy(update=updates)
    check_auth(cfg, path=config, no_auth=no_auth, host=host)
    if no_auth:
        warn_open(host, port)
    if ray:
        from alignstack.serve.ray_deploy import run_on_ray

        console.print(f"serving '{cfg.model_name}' on Ray Serve, {replicas} replicas, at "
                      f"http://{host}:{port}/v1")
        run_on_ray(cfg, host=host, port=port, replicas=replicas,
                   cpus_per_replica=cpus_per_replica)
        return
    import uvicorn

    from alignstack.serve.app import build_app

    app = build_app(cfg)
    console.print(f"serving '{cfg.model_name}' on http://{host}:{port}/v1")
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=10)


def warn_open(host: str, port: int) -> None:
    """--no-auth: say loudly that anyone on this machine can use the server."""
    console.print(f"[bold red]WARNING[/] --no-auth: NO API KEY is required at "
                  f"http://{host}:{port}/v1; any process on this machine can use it. For "
                  "development only.", highlight=False)


@handle_errors
def audit_export(
    audit: Path = typer.Argument(..., help="The proxy's audit SQLite file."),
    output: Path = typer.Option(..., "--output", "-o", help="Preference JSONL to write."),
) -> None:
    """Corrected requests (logged with texts) -> {prompt, chosen, rejected} JSONL."""
    from alignstack.core.errors import ConfigError
    from alignstack.serve.audit import export_preferences

    if not audit.is_file():
        raise ConfigError("audit log not found", path=audit)
    console.print(f"{export_preferences(audit, output)} preference records -> {output}")
