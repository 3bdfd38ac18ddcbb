"""Extension objects, created unbound and attached in create_app()."""
import copy
import time

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from babyowl.models.base import Base

# Models derive from our own Base (plain SQLAlchemy 2.0); Flask-SQLAlchemy only
# manages engines and the request-scoped session over the same metadata.
db = SQLAlchemy(metadata=Base.metadata)
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Pages (HTML, JSON) compressed when the app runs alone (`make run`, one gunicorn): WhiteNoise serves static files
# precompressed but cannot compress what the app renders; behind nginx, nginx does it (COMPRESS_HTML=0).
compress = Compress()


def _user_or_address() -> str:
    # Signed-in users are limited per account (a classroom shares one IP
    # address behind the school's router); everyone else per address.
    from flask_login import current_user
    from flask_limiter.util import get_remote_address

    from babyowl import faces

    face = faces.current()
    if face is not None:  # the API: bearer tokens only, the session cookie is never read under /api
        return face.rate_key()
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{get_remote_address()}"


class SchoolLimiter(Limiter):
    """Flask-Limiter with its Redis fallback state reset for each app it is attached to.

    One limiter object serves every app of a process (tests build many; a worker
    builds one): an app starts on its own storage, not on the in-memory fallback
    an earlier app switched to when its Redis was away.
    """

    def init_app(self, app):
        # Attach first, so this runs before the limiter's own check on every request.
        app.before_request(lambda: self._serve(app))
        self._storage_dead = False
        # Flask-Limiter fills its manager's application and default limits only while they are empty, so the
        # first app's limits would stay for every later app: each app gets a manager of its own to fill.
        manager = copy.copy(self.limit_manager)
        manager._application_limits, manager._default_limits = [], []
        self.limit_manager = manager
        super().init_app(app)
        app.extensions["babyowl.limiter_state"] = dict(self.__dict__)
        self._owner = app
        app.after_request(self._say_when_to_retry)

    def _say_when_to_retry(self, response):
        # Without the X-RateLimit-* headers (RATELIMIT_HEADERS_ENABLED off), a refusal still says when to retry;
        # the window's state is read from the storage for refused requests only.
        if response.status_code == 429 and "Retry-After" not in response.headers:
            limit = self.current_limit
            if limit is not None:
                response.headers["Retry-After"] = str(max(1, int(limit.reset_at - time.time())))
        return response

    def _serve(self, app) -> None:
        # Several apps in one process (the test suite): take up the settings and
        # storage of the app this request is for. One app (production): a no-op.
        if getattr(self, "_owner", None) is not app:
            self.__dict__.update(app.extensions["babyowl.limiter_state"])
            self._owner = app


limiter = SchoolLimiter(key_func=_user_or_address, key_prefix="babyowl")
