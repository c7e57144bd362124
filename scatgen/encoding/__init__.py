"""The encoding stage of the pipeline: the whitening ``L`` (``whitening``) and the code cache of
``z = L S_J x`` for every image of a data set (``code_cache``)."""
