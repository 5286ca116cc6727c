"""Pure parsing and evaluation logic the compatibility suites call.

Every module here takes text a device printed (or data from a suite's data/ folder) and returns typed
records or verdicts; none of them talks to a device, so each is unit-testable without one. The one
exception is `reads`, a thin layer of shell commands run through the `dut` fixture, kept apart so the
rest stays pure."""
