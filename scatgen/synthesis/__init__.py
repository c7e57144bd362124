"""Maximum-entropy (microcanonical) texture synthesis from one example: moment models
(``moments``), the gradient descent (``microcanonical``), examples (``textures``) and the
statistics that judge the results (``statistics``)."""
