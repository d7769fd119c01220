"""The harness the demo, the benchmarks and the tests share: a throw-away PKI (`pki`), a local
Mosquitto (`broker`), the receiver process and the hub's configuration (`world`), the simulated
patient (`patient`), the daemon in-process with that patient (`hub_side`, and `hub_process` for
tests that kill it), what the harness counts of the daemon's intake (`intake`) and of what
reached the receiver (`promise`).

No runtime room (daemon, receiver, uplink, store, ...) imports this package; tests/test_rooms.py
checks it. The package itself imports nothing, so that the simulated patient can be loaded
without the daemon.
"""
