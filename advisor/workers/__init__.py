"""Helper processes of a server process: one component (:mod:`.process`) and its two uses.

:mod:`.evaluators` runs the pure core (rules, pricing, canonical bytes) in child processes;
:mod:`.writer` runs the chain writer in a child process. Both talk to their children through
:class:`.process.HelperPool` over socket pairs.
"""
