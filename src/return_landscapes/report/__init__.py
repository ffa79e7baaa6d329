"""The report: figures (``figures.py``) of the data stored in runs (``data.py``) on
one self-contained HTML page (``html.py``), built by ``build.report``."""
