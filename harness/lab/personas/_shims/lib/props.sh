# Property table of the simulated device, for getprop/setprop/param.
# Layers, later wins: the persona's table (/.persona/props), what the device itself set with
# setprop/param set (/.sim/props, appended), what the device process set from outside as init
# would (/.sim/props.host, replaced whole). Values are printed, never evaluated.

props_all() {
    # sort -s -u keeps the first line of each key: newest layer first, newest setprop first.
    { cat /.sim/props.host 2>/dev/null; tac /.sim/props 2>/dev/null; cat /.persona/props; } |
        sort -s -t= -k1,1 -u
}

prop_get() {
    props_all | {
        while IFS= read -r line; do
            case $line in "$1="*) printf '%s\n' "${line#*=}"; exit 0 ;; esac
        done
        exit 1
    }
}

prop_set() {
    case $1$2 in *"
"*) return 1 ;; esac
    case $1 in ""|*=*) return 1 ;; esac
    printf '%s=%s\n' "$1" "$2" >> /.sim/props
}
