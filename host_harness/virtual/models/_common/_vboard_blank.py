# An empty module: the virtual board (vboard.py, _load_unfolded) fills a fresh copy with a module it compiles.
