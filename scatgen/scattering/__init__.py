"""The scattering transform as a library (what the encoder and the synthesis models use):
``transform`` (the backend choice and the ``Scattering`` encoder ``S_J``), ``fast`` (our backend's
front end: chunking, compile, the forward), ``products`` and ``filters`` (its core and filter
layout), ``kymatio_compat`` (the one module that imports kymatio, the reference) and ``shapes``
(channel counts, output sizes, the size rule)."""
