"""A local web playground: the library trains in this server while a page
watches it learn (`scratchnn playground`; see `server` for the API)."""
from .server import PlaygroundServer, serve
from .store import SessionStore

__all__ = ["PlaygroundServer", "SessionStore", "serve"]
