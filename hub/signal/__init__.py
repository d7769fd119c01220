"""Signal processing and local triage: pure functions over numpy arrays and `hub.model` readings.

numpy is the only third-party import here (SciPy, neurokit2 and heartpy cost a Pi seconds of
start-up and 100+ MiB; they serve only as test oracles and benchmark peers). Nothing in this
package reads a clock or does I/O: callers pass times and data in and get results out.
Importing the package imports none of its modules; import the one you need.
"""
