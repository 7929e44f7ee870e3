"""`python -m serving`: a TensorFlow-Serving-compatible model server.

    python -m serving                                   # the repository's savedmodels/
    python -m serving --model_name=sarcasm --model_base_path=/srv/models/sarcasm_lstm
    python -m serving --model_config_file=/srv/models/models.config \\
        --model_config_file_poll_wait_seconds=60 --enable_batching \\
        --batching_parameters_file=batching.config --monitoring_config_file=monitoring.config

Flags are `tensorflow_model_server`'s, with its names and defaults (and
its `--flag=value` and `--flag=true|false` spellings), except that REST
listens on 8501 by default as in the stock Docker image, and `--host`
(default 127.0.0.1) says where to listen: serving on every interface must
be asked for with `--host=0.0.0.0`. The flags TF Serving lacks bound what
one client can take: request bytes, rows and model runs per request,
connections and their timeouts, concurrent gRPC calls; and model
management over gRPC is off unless `--enable_model_management` is given,
and then limited to directories under `--model_management_roots`.

`--verbose` (or ZOO_VERBOSE=1) shows TensorFlow's native start-up log,
which is otherwise held back. The flags are parsed and checked before
TensorFlow is imported, so a typo is reported at once.
"""

import argparse
import os

from serving.limits import ConnectionLimits, RequestLimits


def _bool(text):
    value = str(text).lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_flags(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m serving", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    flag = parser.add_argument

    def switch(name, default, help):
        flag(name, type=_bool, nargs="?", const=True, default=default, metavar="true|false",
             help=help)

    switch("--verbose", False, "show TensorFlow's native start-up log")
    flag("--port", type=int, default=8500, help="gRPC port (0: no gRPC)")
    flag("--rest_api_port", type=int, default=8501, help="HTTP/REST port (0: no REST)")
    flag("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: all)")
    flag("--model_name", default="default", help="the model's name (single-model mode)")
    flag("--model_base_path", default="", help="the model's base path (single-model mode)")
    flag("--model_config_file", default="", help="ModelServerConfig text proto")
    flag("--model_config_file_poll_wait_seconds", type=int, default=0,
         help="re-read the config file (or, with neither it nor --model_base_path, "
              "savedmodels/models.config) this often (0: once)")
    flag("--file_system_poll_wait_seconds", type=int, default=1,
         help="scan base paths for versions this often (0: once at start)")
    switch("--enable_batching", False, "batch concurrent requests")
    flag("--batching_parameters_file", default="", help="BatchingParameters text proto")
    flag("--monitoring_config_file", default="", help="MonitoringConfig text proto")
    flag("--rest_api_timeout_in_ms", type=int, default=30000,
         help="deadline of a REST request's model run (504 after it)")
    flag("--rest_api_num_threads", type=int, default=4 * (os.cpu_count() or 1),
         help="threads REST requests are decoded, run and encoded on")
    switch("--rest_api_enable_cors_support", False, "add CORS headers")
    switch("--demo_page", True,
           "serve a demo page on the REST port at / (assets under /demo/) that runs the served "
           "models and shows their gates token by token, through the REST API only; "
           "false: / is a 404 like any other path")
    switch("--enable_model_warmup", True, "replay assets.extra warmup requests")
    flag("--num_request_iterations_for_warmup", type=int, default=1,
         help="times each warmup request is replayed")
    flag("--max_num_load_retries", type=int, default=5,
         help="retries of a version that fails to load (0: one attempt)")
    flag("--load_retry_interval_micros", type=int, default=60_000_000,
         help="wait between those retries")
    switch("--allow_version_labels_for_unavailable_models", False,
           "let a config label a version that is not loaded yet")
    flag("--saved_model_tags", default="serve", help="MetaGraph tags to load, comma-separated")
    switch("--enable_signature_method_name_check", False,
           "Predict runs only predict, classify and regress signatures")
    switch("--enable_serialization_as_tensor_content", False,
           "gRPC Predict outputs packed in tensor_content, not typed fields")
    flag("--grpc_max_threads", type=int, default=4 * (os.cpu_count() or 1),
         help="threads gRPC requests are decoded, run and encoded on")
    # What TF Serving lacks: bounds on what one client can take.
    limits = RequestLimits()
    flag("--max_request_bytes", type=int, default=64 * 2**20,
         help="largest request body (REST: 413; gRPC: RESOURCE_EXHAUSTED)")
    flag("--max_request_rows", type=int, default=limits.max_request_rows,
         help="rows (batch elements, tf.Examples) per request; more is INVALID_ARGUMENT / 400")
    flag("--max_rows_per_run", type=int, default=limits.max_rows_per_run,
         help="without batching, a larger request runs as several model runs of this many rows")
    connection_limits = ConnectionLimits()
    flag("--rest_api_max_connections", type=int, default=connection_limits.max_connections,
         help="open REST connections at once; more get 503 and are closed")
    flag("--rest_api_header_timeout_seconds", type=float,
         default=connection_limits.header_timeout_s,
         help="a request's headers must arrive within this, or its connection is closed")
    flag("--rest_api_body_timeout_seconds", type=float, default=connection_limits.body_timeout_s,
         help="a request's body must arrive within this (408)")
    flag("--rest_api_idle_timeout_seconds", type=float, default=connection_limits.idle_timeout_s,
         help="an idle keep-alive connection is closed after this")
    flag("--grpc_max_concurrent_rpcs", type=int, default=1024,
         help="gRPC calls running at once; more get RESOURCE_EXHAUSTED")
    switch("--enable_model_management", False,
           "accept ModelService/HandleReloadConfigRequest (off: PERMISSION_DENIED)")
    flag("--model_management_roots", default="",
         help="comma-separated directories a reload request's base paths must lie under "
              "(default: the directories holding the startup config's models)")
    args = parser.parse_args(argv)
    if args.batching_parameters_file and not args.enable_batching:
        parser.error("--batching_parameters_file set without --enable_batching")
    if args.rest_api_port and args.rest_api_port == args.port:
        parser.error("http_port cannot be same as grpc_port")
    for name in ("max_request_bytes", "max_request_rows", "max_rows_per_run",
                 "rest_api_max_connections", "grpc_max_concurrent_rpcs",
                 "rest_api_header_timeout_seconds", "rest_api_body_timeout_seconds",
                 "rest_api_idle_timeout_seconds"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive; got {getattr(args, name)}")
    if args.model_management_roots and not args.enable_model_management:
        parser.error("--model_management_roots set without --enable_model_management")
    return args
