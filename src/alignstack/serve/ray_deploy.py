"""The proxy as a Ray Serve application: the same app (`build_app`) in N replicas behind Ray
Serve's HTTP proxy, on a local Ray instance or a cluster (RAY_ADDRESS / `ray.init(address=...)`).

Each replica builds its own stack (upstream, inspector, corrector) and batches its own requests;
its audit log gets the replica's id in the file name (`audit-<replica>.sqlite`), so replicas on
different nodes never share one SQLite file. `alignstack audit-export` reads each.
"""

from __future__ import annotations

import os
from pathlib import Path

from alignstack.serve.config import ServeConfig

DEPLOYMENT = "alignstack-proxy"


def replica_audit_path(path: str, replica: str) -> str:
    base = Path(path)
    return str(base.with_name(f"{base.stem}-{replica}{base.suffix}"))


def proxy_application(cfg: ServeConfig, *, replicas: int = 2, cpus_per_replica: float = 1.0):
    """A bound Ray Serve application serving `cfg` with `replicas` replicas."""
    from ray import serve

    @serve.ingress()
    class AlignmentProxy:
        def __init__(self, config: dict):
            self.cfg = ServeConfig.model_validate(config)

        def __serve_build_asgi_app__(self):
            from alignstack.serve.app import build_app

            cfg = self.cfg
            if cfg.audit.path:
                replica = serve.get_replica_context().replica_id.unique_id
                audit = cfg.audit.model_copy(
                    update={"path": replica_audit_path(cfg.audit.path, replica)})
                cfg = cfg.model_copy(update={"audit": audit})
            return build_app(cfg)

    # admit what one replica's app would admit (its own 429 handles the rest)
    ongoing = cfg.limits.concurrency + cfg.limits.queue
    deployment = serve.deployment(AlignmentProxy, name=DEPLOYMENT, num_replicas=replicas,
                                  max_ongoing_requests=ongoing,
                                  ray_actor_options={"num_cpus": cpus_per_replica})
    return deployment.bind(cfg.model_dump())


def run_on_ray(cfg: ServeConfig, *, host: str, port: int, replicas: int, cpus_per_replica: float,
               address: str | None = None, blocking: bool = True):
    """Connect to (or start) Ray, start Serve's HTTP proxy on host:port and deploy the proxy.
    Blocking: serve until SIGINT / SIGTERM, then shut the application down."""
    import ray
    from ray import serve

    env = {k: v for k, v in os.environ.items()
           if k in ("HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM", "ALIGNSTACK_CACHE",
                    "ALIGNSTACK_THREADS")}
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, runtime_env={"env_vars": env},
                 log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    handle = serve.run(proxy_application(cfg, replicas=replicas,
                                         cpus_per_replica=cpus_per_replica),
                       name=DEPLOYMENT, route_prefix="/", blocking=False)
    if not blocking:
        return handle
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()
    return None
