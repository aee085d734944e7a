"""Config -> pipeline.py (Jinja2) -> definition JSON + code manifest, offline and byte-stable."""
