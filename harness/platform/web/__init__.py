"""The ASGI application: server-rendered pages (jinja2) and the JSON API (api/), one authorisation."""
