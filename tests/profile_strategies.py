"""Hypothesis strategies shared by the profile tests."""

from datetime import datetime

from hypothesis import strategies as st

from hub.ble.profiles.ieee11073 import Number

SPECIALS = ("nan", "nres", "+inf", "-inf", "reserved")


def sfloats(specials: bool = True) -> st.SearchStrategy[Number | str]:
    """Numbers an SFLOAT represents exactly, and (optionally) the special values' names."""
    numbers = st.builds(Number, st.integers(-2045, 2045), st.integers(-8, 7))
    return numbers | st.sampled_from(SPECIALS) if specials else numbers


def floats32(specials: bool = True) -> st.SearchStrategy[Number | str]:
    numbers = st.builds(Number, st.integers(-(2**23) + 3, 2**23 - 3), st.integers(-20, 20))
    return numbers | st.sampled_from(SPECIALS) if specials else numbers


def date_times() -> st.SearchStrategy[datetime]:
    return st.datetimes(datetime(1582, 1, 1), datetime(9999, 12, 31, 23, 59, 59)).map(
        lambda t: t.replace(microsecond=0)
    )
