"""`alignstack serve`: expose a model as an OpenAI-compatible API on loopback (or any host)."""

from __future__ import annotations

import typer

from alignstack.cli.common import handle_errors


@handle_errors
def serve(
    model: str = typer.Option("smollm2", help="Model: built-in name, path, .gguf or hub id."),
    name: str = typer.Option(None, help="Model id announced on /v1/models."),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    batch_size: int = typer.Option(8),
) -> None:
    """Serve /v1/chat/completions, /v1/models and /healthz."""
    import uvicorn

    from alignstack.backends.transformers_backend import TransformersGenerator
    from alignstack.serve.app import create_app

    app = create_app(TransformersGenerator(model, batch_size=batch_size), name or model)
    uvicorn.run(app, host=host, port=port, log_level="info")
