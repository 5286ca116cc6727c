"""The platform's database: models, engine and sessions, migrations."""
