"""The shipped TorchServe configuration stays secure, and the launcher keeps it so."""

from __future__ import annotations

from server.process import CONFIG, OPS_OVERRIDES, Ports, TorchServe, read_properties


def test_shipped_defaults_are_secure():
    props = read_properties(CONFIG)
    assert props["disable_token_authorization"] == "false"
    assert props["enable_model_api"] == "false"
    assert props["management_address"].startswith("http://127.0.0.1:")
    assert props["grpc_management_address"] == "127.0.0.1"
    assert int(props["max_request_size"]) >= 100 * 2**20
    assert int(props["max_response_size"]) >= 100 * 2**20
    assert props["metrics_mode"] == "prometheus"


def test_runtime_config_anchors_archives_to_the_model_store(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    ports = Ports(18080, 18081, 18082, 17070, 17071)
    server = TorchServe(tmp_path / "run", {"m": "m.mar"}, ports=ports, model_store=store)
    (tmp_path / "run").mkdir()
    props = read_properties(server.write_config())
    assert props["inference_address"] == "http://127.0.0.1:18080"
    assert props["grpc_management_port"] == "17071"
    assert props["allowed_urls"].startswith(f"file://{store.resolve()}/")
    assert props["enable_model_api"] == "false"
    ops = TorchServe(tmp_path / "run", {"m": "m.mar"}, ports=ports, overrides=OPS_OVERRIDES)
    assert read_properties(ops.write_config())["enable_model_api"] == "true"


def test_start_fails_fast_when_a_port_is_taken(tmp_path):
    import socket

    import pytest

    from server.process import ServerError

    store = tmp_path / "store"
    store.mkdir()
    (store / "m.mar").write_bytes(b"")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free = Ports.free()
        ports = Ports(taken.getsockname()[1], *free.tcp()[1:], worker_base=free.worker_base)
        server = TorchServe(tmp_path / "run", {"m": "m.mar"}, ports=ports, model_store=store)
        with pytest.raises(ServerError, match="already in use"):
            server.start(timeout=5)


def test_free_ports_give_each_instance_its_own_worker_sockets():
    assert Ports.free().worker_base != Ports().worker_base
