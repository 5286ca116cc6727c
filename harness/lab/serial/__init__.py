"""The serial console of a simulated device: what a board's UART shows and takes, and the pty and
TCP lines it is reached by."""
