"""Contract suites: one class of tests per protocol, subclassed once per implementation.

In the style of vdirsyncer's ``StorageTests``: a backend's test module subclasses the contract
and provides the fixture that builds the backend; everything else is shared.
"""
