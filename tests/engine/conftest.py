"""Engine fixtures come from the root conftest (``tenant``, ``simulator``)."""
