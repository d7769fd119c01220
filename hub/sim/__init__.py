"""Virtual devices for tests, benchmarks and the demo: BLE medical devices on Bumble's real
stack over a virtual link (with a bleak backend that drives it), a BlueZ GATT application for
BlueZoo, and a serial oximeter on a pseudo-terminal. Never imported by the daemon."""
