# Log buffers of the simulated device (main, hilog, journal, kmsg): the persona's boot-time lines
# (/.persona/log.NAME) followed by lines the device process appends while it runs (/.sim/log.NAME).
# Clearing hides the boot-time lines and empties the run-time ones, as a real clear would.

log_dump() {
    { [ -e "/.sim/log.$1.cleared" ] || cat "/.persona/log.$1" 2>/dev/null
      cat "/.sim/log.$1" 2>/dev/null; } |
        if [ -n "${2:-}" ]; then tail -n "$2"; else cat; fi
}

log_clear() {
    : > "/.sim/log.$1"
    : > "/.sim/log.$1.cleared"
}

log_follow() {
    touch "/.sim/log.$1"
    exec tail -n 0 -f "/.sim/log.$1"
}
