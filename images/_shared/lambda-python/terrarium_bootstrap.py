"""Terrarium's Lambda runtime client for Python: the `bootstrap` of the python3.x runtime images.

It speaks the Lambda Runtime API (2018-06-01) at $AWS_LAMBDA_RUNTIME_API (`host:port`, or `unix:/path` for a
socket passed into a sandbox without a network): load the handler `module.function` from $LAMBDA_TASK_ROOT
(reporting a failure through /runtime/init/error), then loop on /invocation/next, call the handler with the
event and a context object, and post the result or the error. Errors have the JSON shape AWS's own runtime
(awslambdaric) produces: `{"errorMessage", "errorType", "requestId", "stackTrace"}` with `Runtime.*` types for
faults of the function's packaging. The handler's stdout and stderr are left alone: they are the function's logs.

Pure standard library, so the same file runs on every CPython the images ship (3.11, 3.13).
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
BOOTSTRAP_FILE = os.path.abspath(__file__)


class Fault(Exception):
    """A failure of the function's set-up rather than its code, reported with an AWS `Runtime.*` type."""

    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    MARSHAL_ERROR = "Runtime.MarshalError"
    CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": stack_trace or [],
    }


def error_from_exception(exc, request_id=None):
    """AWS's shape for an exception escaping user code: frames of this file are cut from the top."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]
    while frames and frames[0][0] == BOOTSTRAP_FILE:
        frames.pop(0)
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def load_handler(spec):
    """Import `module.function` (module may be a path `dir/mod`) the way awslambdaric does."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault(Fault.MALFORMED_HANDLER_NAME, f"Bad handler '{spec}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault(Fault.BUILT_IN_MODULE_CONFLICT, f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault(Fault.IMPORT_MODULE_ERROR, f"Unable to import module '{modname}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise Fault(Fault.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{modname}': {e}", trace) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault(Fault.HANDLER_NOT_FOUND, f"Handler '{fname}' missing on module '{modname}'") from None


class _Record:
    """Attribute bag with fixed fields (missing keys read as None), like awslambdaric's slot classes."""

    fields = ()

    def __init__(self, values):
        for name in self.fields:
            setattr(self, name, values.get(name))

    def __repr__(self):
        inner = ",".join(f"{n}={getattr(self, n)}" for n in self.fields)
        return f"{type(self).__name__}([{inner}])"


class CognitoIdentity(_Record):
    fields = ("cognito_identity_id", "cognito_identity_pool_id")


class Client(_Record):
    fields = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


class ClientContext(_Record):
    fields = ("custom", "env", "client")


class LambdaContext:
    """The `context` argument: the attributes and methods of AWS's Python runtime."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context=None,
                 cognito_identity=None, tenant_id=None):
        env = os.environ
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.tenant_id = tenant_id
        self.client_context = None
        if client_context is not None:
            self.client_context = ClientContext(client_context)
            if self.client_context.client is not None:
                self.client_context.client = Client(self.client_context.client)
        cognito = cognito_identity or {}
        self.identity = CognitoIdentity({"cognito_identity_id": cognito.get("cognitoIdentityId"),
                                         "cognito_identity_pool_id": cognito.get("cognitoIdentityPoolId")})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        names = ("aws_request_id", "log_group_name", "log_stream_name", "function_name", "memory_limit_in_mb",
                 "function_version", "invoked_function_arn", "client_context", "identity", "tenant_id")
        return "LambdaContext([" + ",".join(f"{n}={getattr(self, n)}" for n in names) + "])"


class Invocation:
    def __init__(self, headers, body):
        self.request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.trace_id = headers.get("Lambda-Runtime-Trace-Id")
        self.client_context = headers.get("Lambda-Runtime-Client-Context")
        self.cognito_identity = headers.get("Lambda-Runtime-Cognito-Identity")
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id")
        self.content_type = headers.get("Content-Type") or "application/json"
        self.body = body


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class RuntimeClient:
    """The Runtime API over one keep-alive connection (reopened if the server closed it)."""

    def __init__(self, address):
        self.address = address
        self._conn = None

    def _connection(self):
        if self._conn is None:
            if self.address.startswith("unix:"):
                self._conn = _UnixConnection(self.address[len("unix:"):])
            else:
                self._conn = http.client.HTTPConnection(self.address)
        return self._conn

    def _call(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, API_PREFIX + path, body=body, headers=headers or {})
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    conn.close()
                    self._conn = None
                return resp.status, resp.headers, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise

    def next(self):
        status, headers, body = self._call("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError(f"GET /invocation/next answered {status}: {body[:200]!r}")
        return Invocation(headers, body)

    def _post(self, path, body, headers):
        status, _, data = self._call("POST", path, body, headers)
        if status == 202:
            return
        print(f"Runtime API POST {path} answered {status}: {data[:500]!r}", file=sys.stderr, flush=True)
        if status >= 500:
            sys.exit(1)

    def post_response(self, request_id, body, content_type):
        self._post(f"/invocation/{request_id}/response", body, {"Content-Type": content_type})

    def post_error(self, request_id, error):
        self._post(f"/invocation/{request_id}/error", to_json(error).encode(),
                   {"Content-Type": "application/json", ERROR_TYPE_HEADER: error["errorType"]})

    def post_init_error(self, error):
        self._post("/init/error", to_json(error).encode(),
                   {"Content-Type": "application/json", ERROR_TYPE_HEADER: error["errorType"]})


class _Encoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, decimal.Decimal):
            return float(o)
        return super().default(o)


def to_json(obj):
    return json.dumps(obj, cls=_Encoder)


def marshal(result):
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return to_json(result).encode(), "application/json"
    except Exception as e:
        raise Fault(Fault.MARSHAL_ERROR, f"Unable to marshal response: {e}") from None


def unmarshal(body, content_type):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault(Fault.UNMARSHAL_ERROR, f"Unable to unmarshal input: {e}") from None


def _json_header(value, what):
    if not value:
        return None
    try:
        return json.loads(value)
    except Exception as e:
        raise Fault(Fault.CONTEXT_UNMARSHAL_ERROR, f"Unable to parse {what} JSON: {e}") from None


def log_error(error):
    """The error line AWS's runtime writes to the function log (lines joined by CR, one log event)."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}" if error["errorMessage"]
             else f"[ERROR] {error['errorType']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for element in error["stackTrace"]:
            lines += element.splitlines()
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True


def _setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
    handler.formatter.converter = time.gmtime
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _setup_path(task_root):
    """sys.path as in AWS: the function's code, then layers, then the runtime (with its boto3)."""
    runtime_dir = os.path.dirname(BOOTSTRAP_FILE)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    rest = [p for p in sys.path if os.path.abspath(p or ".") != runtime_dir]
    sys.path[:] = [task_root, f"/opt/python/lib/{version}/site-packages", "/opt/python", runtime_dir] + rest


def handle(client, handler, inv):
    global _request_id
    _request_id = inv.request_id
    if inv.trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = inv.trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    try:
        context = LambdaContext(inv.request_id, inv.deadline_ms, inv.invoked_function_arn,
                                _json_header(inv.client_context, "Client Context"),
                                _json_header(inv.cognito_identity, "Cognito Identity"), inv.tenant_id)
        result = handler(unmarshal(inv.body, inv.content_type), context)
        body, content_type = marshal(result)
    except Fault as e:
        error = make_error(e.message, e.error_type, e.trace, inv.request_id)
    except Exception as e:
        error = error_from_exception(e, inv.request_id)
    else:
        client.post_response(inv.request_id, body, content_type)
        return
    log_error(error)
    client.post_error(inv.request_id, error)


def main(argv):
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    spec = os.environ.get("_HANDLER") or (argv[1] if len(argv) > 1 else "")
    client = RuntimeClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    _setup_logging()
    _setup_path(task_root)
    if os.path.isdir(task_root):
        os.chdir(task_root)
    try:
        handler = load_handler(spec)
    except Exception as e:
        error = make_error(e.message, e.error_type, e.trace) if isinstance(e, Fault) else error_from_exception(e)
        log_error(error)
        client.post_init_error(error)
        return 1
    while True:
        handle(client, handler, client.next())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
