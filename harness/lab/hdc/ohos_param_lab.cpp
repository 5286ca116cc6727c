// The simulated device's system-parameter API for the lab's hdcd (linked in place of the peers'
// stubs/ohos_param.cpp, same reads). One addition: setting ohos.startup.powerctrl (what hdcd does
// for `hdc target boot`, as init's power control would see it) leaves a reboot request in the file
// named by HARNESS_HDCD_REBOOT_REQUEST, which the lab's device process watches.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <cstdint>

static std::mutex g_mtx;
static std::map<std::string, std::string> g_params;

static bool Lookup(const char *key, std::string &out)
{
    std::lock_guard<std::mutex> lk(g_mtx);
    auto it = g_params.find(key);
    if (it != g_params.end()) { out = it->second; return true; }
    std::string env = "OHOS_PARAM_";
    for (const char *p = key; *p; ++p) env += (*p == '.' || *p == '-') ? '_' : *p;
    const char *v = getenv(env.c_str());
    if (v == nullptr) return false;
    out = v;
    return true;
}

static int RequestReboot(const char *value)
{
    const char *path = getenv("HARNESS_HDCD_REBOOT_REQUEST");
    if (path == nullptr || *path == '\0') return -1;
    const char *target = strchr(value, ',');
    std::string tmp = std::string(path) + ".tmp";
    FILE *f = fopen(tmp.c_str(), "w");
    if (f == nullptr) return -1;
    fprintf(f, "%s\n", target ? target + 1 : "");
    if (fclose(f) != 0) return -1;
    return rename(tmp.c_str(), path) == 0 ? 0 : -1;  // renamed into place: the watcher sees it whole
}

extern "C" int GetParameter(const char *key, const char *def, char *value, uint32_t len)
{
    if (key == nullptr || value == nullptr || len == 0) return -1;
    std::string v;
    if (!Lookup(key, v)) {
        if (def == nullptr) return -1;
        v = def;
    }
    if (v.size() + 1 > len) return -1;
    memcpy(value, v.c_str(), v.size() + 1);
    return static_cast<int>(v.size());
}

extern "C" int SetParameter(const char *key, const char *value)
{
    if (key == nullptr || value == nullptr) return -1;
    if (strcmp(key, "ohos.startup.powerctrl") == 0 && strncmp(value, "reboot", 6) == 0) {
        return RequestReboot(value);
    }
    std::lock_guard<std::mutex> lk(g_mtx);
    g_params[key] = value;
    return 0;
}

extern "C" uint32_t GetUintParameter(const char *key, uint32_t def)
{
    std::string v;
    if (!Lookup(key, v) || v.empty()) return def;
    char *end = nullptr;
    unsigned long r = strtoul(v.c_str(), &end, 0);
    return (end && *end == '\0') ? static_cast<uint32_t>(r) : def;
}

extern "C" int WaitParameter(const char *, const char *, int) { return -1; }
