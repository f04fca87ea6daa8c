"""``make soak``: faults and crashes, measured (see ``bench/soak/__main__.py``)."""
