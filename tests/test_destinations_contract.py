"""The destination contract (tests/destination_contract.py), run for every destination kind."""

from tests.destination_contract import *  # noqa: F403
