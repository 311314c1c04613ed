"""The MOBPROC v1 API: a faithful, self-contained sandbox of the hosted Mobile Procurement API,
served under ``/mobproc/v1`` (README, "The MOBPROC v1 API").

>>> api = create_api(services.verifier, services.procurement, services.database, settings, verify_in_process=True)  # doctest: +SKIP
"""

from .app import PATH, create_api, mount
from .door import RemoteVerifier, TokenVerifier

__all__ = ["PATH", "RemoteVerifier", "TokenVerifier", "create_api", "mount"]
