"""The bottom of the package: files written atomically and verified on every read.

``arrays`` streams ``.npy`` files row by row; ``artefacts`` holds the one pattern every on-disk
artefact follows (prepared data, code caches, the mode classifier): take a lock, verify,
rebuild into a temporary directory if missing or corrupt, rename into place.  Nothing here
imports the rest of scatgen.
"""
