"""The simulated device-side adbd: ADB messages, one connection's streams, and the shell, sync and
reboot services the real adb server talks to."""
