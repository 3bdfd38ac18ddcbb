"""Extension objects, created unbound and attached in create_app()."""
from flask_babel import Babel
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
