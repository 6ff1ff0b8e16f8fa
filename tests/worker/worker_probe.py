"""Run Microsoft's Python worker's own indexing on a function app folder and print what it would tell the host.

Started by tests/worker as ``python -I tests/worker/worker_probe.py <app folder>`` in a fresh interpreter,
so nothing of pytest, tests/ or dev/ is loaded when the app is imported (``-I`` keeps this script's folder,
PYTHONPATH and user site-packages off ``sys.path``). It drives the worker the way its proxy does for the
host: ``worker_init_request`` with the function app directory (the worker indexes ``function_app.py``
there), then ``functions_metadata_request``, whose ``RpcFunctionMetadata`` list is what the host registers.

The worker library gets its gRPC message classes from the proxy that ships with the host, not from PyPI, so
this script builds them with protobuf from a subset of the host contract (FunctionRpc.proto): the messages
and fields these two requests read or set, with their proto names and numbers. If the worker set a field
this subset lacks, protobuf would raise, so the probe fails rather than drop data.

Prints one JSON object on the last line of stdout: the worker's status, each function's metadata
(raw bindings parsed from JSON) and the modules that indexing loaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import types

STRING, BOOL, INT32, ENUM, MESSAGE = "string", "bool", "int32", "enum", "message"

# name -> (enums {name: [labels in value order]}, fields [(name, number, type, type name, repeated)]).
# A field whose type is "map:<value type>" is a map<string, value>.
CONTRACT: dict[str, tuple[dict, list]] = {
    "RpcException": ({}, [("source", 3, STRING, "", False), ("stack_trace", 1, STRING, "", False),
                          ("message", 2, STRING, "", False), ("is_user_exception", 4, BOOL, "", False),
                          ("type", 5, STRING, "", False)]),
    "StatusResult": ({"Status": ["Failure", "Success", "Cancelled"]},
                     [("status", 4, ENUM, "StatusResult.Status", False), ("result", 1, STRING, "", False),
                      ("exception", 2, MESSAGE, "RpcException", False)]),
    "WorkerMetadata": ({}, [("runtime_name", 1, STRING, "", False), ("runtime_version", 2, STRING, "", False),
                            ("worker_version", 3, STRING, "", False), ("worker_bitness", 4, STRING, "", False),
                            ("custom_properties", 5, "map:string", "", False)]),
    "WorkerInitRequest": ({}, [("host_version", 1, STRING, "", False), ("capabilities", 2, "map:string", "", False),
                               ("worker_directory", 4, STRING, "", False),
                               ("function_app_directory", 5, STRING, "", False)]),
    "WorkerInitResponse": ({}, [("worker_version", 1, STRING, "", False),
                                ("capabilities", 2, "map:string", "", False),
                                ("result", 3, MESSAGE, "StatusResult", False),
                                ("worker_metadata", 4, MESSAGE, "WorkerMetadata", False)]),
    "BindingInfo": ({"Direction": ["in", "out", "inout"], "DataType": ["undefined", "string", "binary", "stream"]},
                    [("type", 2, STRING, "", False), ("direction", 3, ENUM, "BindingInfo.Direction", False),
                     ("data_type", 4, ENUM, "BindingInfo.DataType", False),
                     ("properties", 5, "map:string", "", False)]),
    "RpcRetryOptions": ({"RetryStrategy": ["exponential_backoff", "fixed_delay"]},
                        [("max_retry_count", 2, INT32, "", False),
                         ("delay_interval", 3, MESSAGE, ".google.protobuf.Duration", False),
                         ("minimum_interval", 4, MESSAGE, ".google.protobuf.Duration", False),
                         ("maximum_interval", 5, MESSAGE, ".google.protobuf.Duration", False),
                         ("retry_strategy", 6, ENUM, "RpcRetryOptions.RetryStrategy", False)]),
    "RpcFunctionMetadata": ({}, [("name", 4, STRING, "", False), ("directory", 1, STRING, "", False),
                                 ("script_file", 2, STRING, "", False), ("entry_point", 3, STRING, "", False),
                                 ("bindings", 6, "map:BindingInfo", "", False), ("is_proxy", 7, BOOL, "", False),
                                 ("status", 8, MESSAGE, "StatusResult", False), ("language", 9, STRING, "", False),
                                 ("raw_bindings", 10, STRING, "", True), ("function_id", 13, STRING, "", False),
                                 ("managed_dependency_enabled", 14, BOOL, "", False),
                                 ("retry_options", 15, MESSAGE, "RpcRetryOptions", False),
                                 ("properties", 16, "map:string", "", False)]),
    "FunctionMetadataResponse": ({}, [("function_metadata_results", 1, MESSAGE, "RpcFunctionMetadata", True),
                                      ("result", 2, MESSAGE, "StatusResult", False),
                                      ("use_default_metadata_indexing", 3, BOOL, "", False)]),
    "StreamingMessage": ({}, [("request_id", 1, STRING, "", False),
                              ("worker_init_request", 17, MESSAGE, "WorkerInitRequest", False)]),
}
PACKAGE = "AzureFunctionsRpcMessages"


def build_protos() -> types.SimpleNamespace:
    """Message classes for CONTRACT, as the worker expects them on ``request.properties['protos']``."""
    from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, message_factory
    fdp = descriptor_pb2.FieldDescriptorProto
    scalar = {STRING: fdp.TYPE_STRING, BOOL: fdp.TYPE_BOOL, INT32: fdp.TYPE_INT32}
    file = descriptor_pb2.FileDescriptorProto(name="FunctionRpcSubset.proto", package=PACKAGE, syntax="proto3",
                                              dependency=["google/protobuf/duration.proto"])

    def add_field(message, name, number, kind, type_name, repeated):
        field = message.field.add(name=name, number=number,
                                  label=fdp.LABEL_REPEATED if repeated else fdp.LABEL_OPTIONAL)
        if kind in scalar:
            field.type = scalar[kind]
        else:
            field.type = fdp.TYPE_ENUM if kind == ENUM else fdp.TYPE_MESSAGE
            field.type_name = type_name if type_name.startswith(".") else f".{PACKAGE}.{type_name}"

    for message_name, (enums, fields) in CONTRACT.items():
        message = file.message_type.add(name=message_name)
        for enum_name, labels in enums.items():
            message.enum_type.add(name=enum_name, value=[
                descriptor_pb2.EnumValueDescriptorProto(name=label, number=i) for i, label in enumerate(labels)])
        for name, number, kind, type_name, repeated in fields:
            if kind.startswith("map:"):
                value = kind[4:]
                entry = message.nested_type.add(name="".join(p.title() for p in name.split("_")) + "Entry")
                entry.options.map_entry = True
                add_field(entry, "key", 1, STRING, "", False)
                add_field(entry, "value", 2, *((STRING, "") if value == STRING else (MESSAGE, value)), False)
                add_field(message, name, number, MESSAGE, f"{message_name}.{entry.name}", True)
            else:
                add_field(message, name, number, kind, type_name, repeated)

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(duration_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    return types.SimpleNamespace(**{
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
        for name in CONTRACT})


def index(app_dir: str) -> dict:
    """Initialise the worker on ``app_dir`` and ask for the function metadata, as the host does."""
    from google.protobuf import json_format
    # The worker's proxy puts the script root first on sys.path before it hands over to the library.
    sys.path.insert(0, app_dir)
    os.chdir(app_dir)
    protos = build_protos()
    before = set(sys.modules)
    from azure_functions_runtime import handle_event
    from azure_functions_runtime.version import VERSION
    init = protos.StreamingMessage(request_id="init", worker_init_request=protos.WorkerInitRequest(
        host_version="4.0.0", function_app_directory=app_dir, worker_directory=os.path.dirname(handle_event.__file__),
        capabilities={}))
    request = types.SimpleNamespace(request=init, properties={"host": "127.0.0.1", "protos": protos})
    init_response = asyncio.run(handle_event.worker_init_request(request))
    metadata_response = asyncio.run(handle_event.functions_metadata_request(request))
    functions = []
    for metadata in metadata_response.function_metadata_results:
        entry = json_format.MessageToDict(metadata, preserving_proto_field_name=True)
        entry["raw_bindings"] = [json.loads(raw) for raw in metadata.raw_bindings]
        functions.append(entry)
    return {
        "worker": "azure-functions-runtime " + VERSION,
        "azure_functions": sys.modules["azure.functions"].__version__,
        "init": json_format.MessageToDict(init_response.result, preserving_proto_field_name=True),
        "status": protos.StatusResult.Status.Name(metadata_response.result.status),
        "functions": functions,
        "loaded": sorted(set(sys.modules) - before),
    }


if __name__ == "__main__":
    print(json.dumps(index(os.path.abspath(sys.argv[1]))))
