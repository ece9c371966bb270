"""The worker pool: scheduled, queued and auto-resumed syncs on procrastinate, in the database
the product already uses (see ``app.py`` for the tasks, ``jobs.py`` for what they do and
``serve.py`` for a worker process)."""
