"""USB serial medical devices: pure frame parsers and the pyserial edge that feeds them."""
