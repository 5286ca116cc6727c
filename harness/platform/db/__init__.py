"""The platform's database: models, engine and sessions, migrations."""

# Every table on one metadata whichever module is imported first: the certification and notification
# tables build on models' Base, so they are loaded here rather than from models (no import cycle).
from . import cert_models, models, notify_models  # noqa: F401
