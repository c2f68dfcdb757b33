"""The OpenAPI 3.1 description of Quartier's HTTP API, served at ``/api/openapi.json``."""

from quartier.openapi.document import openapi_document

__all__ = ["openapi_document"]
