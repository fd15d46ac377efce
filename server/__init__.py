"""HTTP server of jp-funding-kg: SPARQL 1.1 Protocol, linked data, web pages and a REST API.

``server`` imports :mod:`kg`, never the reverse. Build an app with :func:`create_app`; see
:mod:`server.app` for running it with uvicorn.
"""

from server.app import create_app

__all__ = ["create_app"]
