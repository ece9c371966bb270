"""PostgreSQL: the database, its schema and one home per table, returning typed rows.

```
configs.py        cc_api_client_config      ConfigRow; the CLI's ORM edits
templates.py      cc_odata_query_template   TemplateRow, ActiveTemplate
runs.py           cc_sync_run               RunRow, RunProgress; counters, flags
cursors.py        cc_pagination_state       CursorStart; the cursor's advisory lock
rate_limits.py    cc_rate_limit_state       Verdict; scopes, pacing slots
error_events.py   cc_error_event            one writer (it counts the error on its run)
audit_log.py      cc_api_request_log,       RequestRef, ResponseFields; write-ahead
                  cc_api_response_log       requests, responses, failed attempts
validations.py    cc_schema_validation      the row written with each page
silver.py         cc_silver_record          the page upsert and its hashes
operator_actions  cc_operator_action        Operator; who did what (CLI and console)
jobs.py           cc_worker, procrastinate_*  worker names; due templates, jobs (read)
silver_views.py   <schema>.<config>__<res>  ViewSpec, ViewResult; typed views over Silver
                                            (silver_columns.py plans their columns; exports
                                            in silver_export.py, the reader role in
                                            silver_reader.py)
```

Compositions over several homes: ``landing.py`` (one page, one transaction), ``stale.py``
(the sweep of runs whose engine died), ``partitions.py`` (monthly log partitions),
``scrub.py`` (masking secrets older versions stored). The console's reads: ``dashboard.py``,
``details.py``, ``audit_query.py``; ``listen.py`` and ``events.py`` carry live events.
Knows no HTTP: ``store/`` imports nothing from ``client/``, ``engine/`` or ``tui/``.
"""
