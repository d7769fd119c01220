"""`hub demo`: the whole chain on one machine (see `hub.demo.app`). The package itself imports
nothing, so that the simulated patient (`hub.demo.devices`) can be loaded without the daemon."""
