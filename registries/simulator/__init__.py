"""A small FastAPI service that serves the local reference store over the sources' HTTP contract.

Run it with ``simpul registries serve-simulator --port P`` or
``uvicorn registries.simulator.app:create_app --factory``.
"""

from registries.simulator.app import create_app

__all__ = ["create_app"]
