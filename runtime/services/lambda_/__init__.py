"""Lambda (rest-json 2015-03-31): functions, versions, aliases, permissions, concurrency, URLs and invoke.

The provider is split by concern (one module each); `service.LambdaService` holds what they share (the
store, code storage, the sandbox port, execution-role credentials, logs and the billing ledger) and is opened
and closed by a cleanup context in `runtime/app.py` together with the async worker.
"""
