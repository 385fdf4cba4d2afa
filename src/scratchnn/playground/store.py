"""The playground's sessions by id, with the cap on how many live at once."""
import threading
import time

from .config import validate_config
from .sessions import Session, SessionError

MAX_SESSIONS = 20
MAX_TRAIN_SECONDS = 300.0


class SessionStore:
    """Sessions by id; when full, the longest-idle paused one is evicted.

    Parameters
    ----------
    max_sessions : int, default=MAX_SESSIONS
    max_train_seconds : float, default=MAX_TRAIN_SECONDS
        Each session's training-time allowance (see `Session`).

    Notes
    -----
    A session that is training is never evicted: when all are training,
    `create` refuses with 503 instead.
    """

    def __init__(self, max_sessions: int = MAX_SESSIONS,
                 max_train_seconds: float = MAX_TRAIN_SECONDS):
        self.max_sessions = max_sessions
        self.max_train_seconds = max_train_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def create(self, given) -> Session:
        config = validate_config(given)
        evicted = None
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                evicted = self._evictable()
                if evicted is None:
                    raise SessionError(
                        f"all {self.max_sessions} sessions are training; "
                        f"pause or delete one, or try again later",
                        status=503,
                    )
                del self._sessions[evicted.id]
            session = Session(config, self.max_train_seconds)
            self._sessions[session.id] = session
        if evicted is not None:
            evicted.close()
        return session

    def _evictable(self) -> "Session | None":
        idle = [s for s in self._sessions.values() if s.status != "training"]
        return min(idle, key=lambda s: s.last_used, default=None)

    def get(self, session_id: str) -> "Session | None":
        with self._lock:
            session = self._sessions.get(session_id)
        if session is not None:
            session.last_used = time.monotonic()
        return session

    def delete(self, session_id: str) -> bool:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        session.close()
        return True

    def close_all(self) -> None:
        """Stop every training thread and forget every session."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session.close()
