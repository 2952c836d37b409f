"""The archive as a local, read-only web site: `cablearchive serve`.

`create_app(archive_dir)` is a Starlette application (served by uvicorn): pages made from
Jinja2 templates, each with a JSON twin under /api/, and Atom feeds of new versions.
"""

from crawler.web.app import create_app

__all__ = ["create_app"]
