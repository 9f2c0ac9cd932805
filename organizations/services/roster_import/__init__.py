"""The roster import (ORG-5, ORG-6, ORG-7, ORG-10, SEC-1, SEC-3), one package: import the
module you mean.

- ``files``: upload limits, the format sniffed from the first bytes, workbook bomb checks.
- ``columns``: importable fields, labels, header aliases, masking of sensitive values.
- ``parsing``: a file's rows and its header (on the worker, never in the web request).
- ``snapshot``: the roster as the checks see it, read in a constant number of queries.
- ``checks``: the row checks (pure code).
- ``file_checks``: checking a whole file, in parts that run at the same time.
- ``writing``: set-based inserts and updates of checked rows.
- ``jobs``: the job row -- claims, attempts, heartbeats, failures, recovery.
- ``storage``: what a job stores between its steps (parts, plan, report).
- ``service``: start, check, decide, write (the task bodies).
- ``template``: the CSV and Excel templates and their guide.
- ``upsert``: the API's synchronous counterpart on rows sent as JSON.
"""
