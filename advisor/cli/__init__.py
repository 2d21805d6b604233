"""The ``advisor`` command: ``main.py`` parses and dispatches, one module per group of subcommands
(``audit``: verify, export, checkpoint, keys; ``clients``; ``impact``), and ``report.py`` renders a
recommendation for a terminal. Nothing here holds business logic: each command calls the store, the
application services or a pure renderer, and turns their errors into exit statuses."""
