"""Training and evaluation: the scripts that build the analyzers' committed artifacts from
``../shared/data`` (fit, evaluate, export) and measure them. scikit-learn and torch are used
only here (the ``train`` extra); nothing in :mod:`nunchi.analyzers` imports this package."""
