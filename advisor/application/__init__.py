"""Application services, one module per use case (``evaluate``, ``record_assessment``, ``reassess``; next
``review``). Each takes its collaborators as the ports in ``ports`` and imports no adapter (store, workers):
controllers and the CLI call a use case, ``create_app`` hands it the real adapters, tests hand it fakes.
"""
