"""`hub demo`: the whole chain on one machine (see `hub.demo.app`); its harness (PKI, broker,
receiver process, simulated patient, the daemon in-process) is `hub.testbed`."""
