"""The running model server: models, gRPC and REST ports, config and version polling.

Start-up: the models are loaded (warmup included) before the ports open,
then the server logs TF Serving's two lines, `Running gRPC ModelServer at
...` and `Exporting HTTP/REST API at:...`. SIGTERM or SIGINT stop it
cleanly: the ports stop accepting, the requests in flight finish, the
models are unloaded.

The server imports TensorFlow and the serving protocol libraries, never
`zoo` or `training`: a served model is a self-contained SavedModel.
"""

import asyncio
import logging
import signal
import threading
from concurrent import futures

from aiohttp import web

from serving import batching, connections, grpc_api
from serving.config import (
    ConfigError,
    check_config,
    check_under_roots,
    model_roots,
    read_config_file,
    repository_config,
    single_model_config,
)
from serving.demo_page import DemoPage
from serving.errors import ServingError
from serving.manager import LoadOptions, ModelManager
from serving.metrics import Metrics, read_monitoring_config
from serving.rest_api import RestApi
from serving.limits import ConnectionLimits, RequestLimits
from serving.service import Service

log = logging.getLogger("serving")


def initial_config(args):
    """The ModelServerConfig the flags ask for (read again at each config poll)."""
    if args.model_config_file:
        return check_config(read_config_file(args.model_config_file))
    if args.model_base_path:
        return check_config(single_model_config(args.model_name, args.model_base_path))
    return check_config(repository_config())


def config_file_polled(args):
    """Whether the config file is re-read: a poll interval and a file to read.

    With no flags the file is savedmodels/models.config. A single model
    (`--model_base_path`) has no file, so there the interval is ignored, as
    in TF Serving, and the start-up log says so.
    """
    if args.model_config_file_poll_wait_seconds <= 0:
        return False
    if args.model_base_path and not args.model_config_file:
        log.warning("--model_config_file_poll_wait_seconds=%d is ignored: --model_base_path "
                    "serves one model and there is no config file to re-read",
                    args.model_config_file_poll_wait_seconds)
        return False
    return True


class ModelServer:
    """The running server: models, gRPC, REST, polling; `serve()` blocks."""

    def __init__(self, args):
        self.args = args
        self.metrics = Metrics()
        self.manager = ModelManager(LoadOptions(
            tags=[t for t in args.saved_model_tags.split(",") if t],
            enable_warmup=args.enable_model_warmup,
            warmup_iterations=args.num_request_iterations_for_warmup,
            check_method_names=args.enable_signature_method_name_check,
            max_load_retries=args.max_num_load_retries,
            load_retry_interval_seconds=args.load_retry_interval_micros / 1e6,
            allow_labels_for_unavailable=args.allow_version_labels_for_unavailable_models,
        ))
        self.batcher = None
        if args.enable_batching:
            parameters = batching.load_batching_parameters(args.batching_parameters_file or None)
            self.batcher = batching.BatchScheduler(
                parameters,
                on_batch=lambda key, size, processed, waits: self.metrics.batch(
                    size, processed, waits))
        self.monitoring_path = None
        if args.monitoring_config_file:
            self.monitoring_path = read_monitoring_config(args.monitoring_config_file)
        self.config_lock = threading.Lock()
        self.management_roots = None  # set from the startup config in serve()
        self.service = Service(
            self.manager, self.batcher, self.metrics,
            RequestLimits(args.max_request_rows, args.max_rows_per_run),
            check_method_names=args.enable_signature_method_name_check,
            reload_config=self.reload_requested_config if args.enable_model_management else None,
            tensor_content=args.enable_serialization_as_tensor_content)
        self.stopping = threading.Event()

    def reload_config(self, config):
        """Serves `config`'s models (start-up and config-file polling)."""
        with self.config_lock:
            self.manager.set_config(config)

    def reload_requested_config(self, config):
        """A client's HandleReloadConfigRequest: only models under the roots.

        Raises:
            ConfigError: A refused config; nothing is changed.
        """
        check_under_roots(check_config(config), self.management_roots)
        log.info("Reloading the model config at a client's request")
        self.reload_config(config)

    def _poll_config_file(self, served):
        seconds = self.args.model_config_file_poll_wait_seconds
        while not self.stopping.wait(seconds):
            try:
                config = initial_config(self.args)
                if config != served:
                    self.reload_config(config)
                    served = config
            except ConfigError as error:
                log.error("Keeping the current models: %s", error)

    def serve(self):
        """Loads the models, opens the ports, and runs until SIGTERM/SIGINT."""
        args = self.args
        config = initial_config(args)
        if args.enable_model_management:
            self.management_roots = (
                [root for root in args.model_management_roots.split(",") if root]
                or model_roots(config))
            log.info("Model management over gRPC is on for directories under: %s",
                     ", ".join(self.management_roots))
        self.reload_config(config)
        if args.file_system_poll_wait_seconds > 0:
            self.manager.start_polling(args.file_system_poll_wait_seconds)
        if config_file_polled(args):
            log.info("Re-reading %s every %d s",
                     args.model_config_file or "savedmodels/models.config",
                     args.model_config_file_poll_wait_seconds)
            threading.Thread(target=self._poll_config_file, args=(config,), daemon=True,
                             name="config-poller").start()
        try:
            asyncio.run(self._serve_ports())
        finally:
            self.stopping.set()
            if self.batcher is not None:
                self.batcher.close()
            self.manager.close()
            log.info("Server stopped.")

    async def _serve_ports(self):
        """gRPC and REST on one event loop, their work on two thread pools."""
        args = self.args
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        limits = ConnectionLimits(
            header_timeout_s=args.rest_api_header_timeout_seconds,
            body_timeout_s=args.rest_api_body_timeout_seconds,
            idle_timeout_s=args.rest_api_idle_timeout_seconds,
            max_connections=args.rest_api_max_connections)
        connections.install_accept_error_log(loop, limits.accept_error_log_interval_s)
        open_files = connections.raise_open_file_limit()
        if args.rest_api_port and open_files < args.rest_api_max_connections + 256:
            log.warning("The open-file limit (%d) is close to --rest_api_max_connections (%d)",
                        open_files, args.rest_api_max_connections)
        grpc_server = runner = None
        if args.port:
            executor = futures.ThreadPoolExecutor(args.grpc_max_threads,
                                                  thread_name_prefix="grpc")
            grpc_server, port = grpc_api.make_server(
                self.service, args.host, args.port, executor, self.metrics,
                args.max_request_bytes, args.grpc_max_concurrent_rpcs)
            await grpc_server.start()
            log.info("Running gRPC ModelServer at %s:%d ...", args.host, port)
        try:
            if args.rest_api_port:
                executor = futures.ThreadPoolExecutor(args.rest_api_num_threads,
                                                      thread_name_prefix="rest")
                api = RestApi(self.service, executor, args.rest_api_timeout_in_ms,
                              self.metrics, self.monitoring_path,
                              args.rest_api_enable_cors_support, args.max_request_bytes,
                              limits.body_timeout_s, [connections.limits_middleware],
                              DemoPage(self.manager.model_names) if args.demo_page else None)
                runner = web.AppRunner(api.application(), access_log=None,
                                       handle_signals=False, shutdown_timeout=30,
                                       auto_decompress=False,
                                       keepalive_timeout=limits.idle_timeout_s)
                await runner.setup()
                await connections.start_rest_site(runner, args.host, args.rest_api_port, limits)
                log.info("Exporting HTTP/REST API at:%s:%d ...", args.host, args.rest_api_port)
            await stop.wait()
            log.info("Shutting down: finishing the requests in flight.")
        finally:
            # Both stop accepting at once; each then waits for its calls.
            await asyncio.gather(
                runner.cleanup() if runner is not None else asyncio.sleep(0),
                grpc_server.stop(grace=30) if grpc_server is not None else asyncio.sleep(0))


def run(args):
    """Serves until SIGTERM/SIGINT; the exit status (1: a bad config or a port in use)."""
    # TensorFlow's deprecation notices for the TF1 loader are not news here.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        ModelServer(args).serve()
    except (ConfigError, ServingError, OSError) as error:
        # A bad config, batching or monitoring file, or a port in use.
        log.error("%s", error)
        return 1
    return 0
