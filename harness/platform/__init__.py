"""The adaptation test platform (适配测试平台): a server where labs and vendor CI publish signed bundles and
certification officers find, check and download them.

Layers, each a sub-package with one job (data flows down, never back up):

    web/, api/   pages (jinja2) and the JSON API over the same services and the same authorisation
    service      what a request does: accept an upload, list and read submissions, manage tokens
    intake/      the checks an upload passes before anything is stored, in order
    store/       bundle files by SHA-256, written atomically, served byte-identical
    auth/        passwords, sessions, CSRF, throttling, API tokens; policy.py is the pure rule table
    db/          SQLAlchemy models, engine, Alembic migrations (shipped in the package)
    results_doc  the one reader of results.json (so a typed results document is one module to switch)
"""
