"""Bluetooth LE: connections to medical devices, and `profiles/`, the pure parsers of their
GATT characteristics."""
