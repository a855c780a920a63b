"""One Ray session for a stage that uses Ray Data (``ingest.engine: ray``, ``index.engine: ray``).

With ``RAY_ADDRESS`` set (``ray start --head`` on a cluster, or ``auto``) the stage joins that
cluster and the work spreads over its nodes; otherwise a private local Ray starts with this
machine's CPUs and stops when the stage ends. Ray is an optional extra
(``pip install -e ".[scale]"``): without it the stage says so instead of failing on an import.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.ray")


def require_ray():
    try:
        import ray
    except ImportError:
        raise PdfqaError(
            'engine "ray" needs Ray Data: pip install -e ".[scale]" (or set the engine to local)'
        ) from None
    return ray


@contextmanager
def ray_session(num_cpus: int | None = None):
    """``ray.init`` (cluster when ``RAY_ADDRESS`` is set, else local), then ``ray.shutdown``.
    A session someone else started (a notebook, a test) is reused and left running."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    address = os.environ.get("RAY_ADDRESS")
    kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if not address:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    ray.init(address=address or None, **kwargs)
    log.info("Ray: %s, %s CPUs", address or "local", ray.cluster_resources().get("CPU"))
    try:
        yield ray
    finally:
        ray.shutdown()
