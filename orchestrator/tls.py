"""A verifying TLS context that loads its CA bundle at the first TLS connection, not before."""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any

_LOADING = threading.Lock()  # anyio calls wrap_bio of SSLContext subclasses in a worker thread


class LazyCAContext(ssl.SSLContext):
    """Checks certificates and host names like httpx's default context.

    Loading the CA bundle costs ~20 ms; a run that only speaks http:// (the simulator, a
    loopback gateway) never pays it.
    """

    _ca_loaded = False

    @classmethod
    def client(cls) -> LazyCAContext:
        """A client-side context: certificate required, host name checked."""
        return cls(ssl.PROTOCOL_TLS_CLIENT)

    @property
    def ca_loaded(self) -> bool:
        """True once the CA bundle is in (after the first TLS connection)."""
        return self._ca_loaded

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        """Load the CA bundle if needed, then start TLS over memory buffers (asyncio)."""
        self._load_ca()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        """Load the CA bundle if needed, then start TLS over a socket."""
        self._load_ca()
        return super().wrap_socket(*args, **kwargs)

    def _load_ca(self) -> None:
        with _LOADING:
            if self._ca_loaded:
                return
            # As httpx does: SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's bundle.
            cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            if not cafile and not capath:
                import certifi

                cafile = certifi.where()
            self.load_verify_locations(cafile=cafile or None, capath=capath or None)
            self._ca_loaded = True
