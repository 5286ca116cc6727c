"""National cryptography: SM2/SM3/SM4 in the kernel crypto API (/proc/crypto, the kernel config) and in
the userland library (openssl's lists and known-answer tests; OpenHarmony's system crypto library).

Expected of the domestic profiles; another device opts in with the tag "sm-crypto", else every test is
a SKIP that says so. A device that shares the lab host's kernel (the simulated lab's sandboxes, inventory
tag "shared-host-kernel") SKIPs the CRYPTO-K-* tests: the kernel they would read is not its own."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pytest

from harness.checks import kconfig, reads, smcrypto

RELEASE = "$(uname -r)"


@pytest.fixture(autouse=True)
def _in_scope(dut):
    reason = smcrypto.scope_reason(dut.profile.name, dut.spec.tags)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def own_kernel(dut):
    """The CRYPTO-K-* tests judge the device's kernel: a device on the lab host's kernel is a SKIP. Module
    scope sets it up before the autouse scope check, so that reason comes first here too."""
    tags = dut.spec.tags
    reason = smcrypto.scope_reason(dut.profile.name, tags) or smcrypto.shared_kernel_reason(tags)
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def kernel_algs(dut, own_kernel):
    text = reads.read_file(dut, "/proc/crypto", limit=reads.LARGE)
    assert text, "/proc/crypto is unreadable (kernel without CONFIG_CRYPTO or /proc not mounted)"
    return smcrypto.parse_proc_crypto(text)


@pytest.fixture(scope="module")
def kernel_config(dut, ident, own_kernel):
    """The running kernel's config, or None when none of the profile's sources is for this kernel."""
    for path, text in reads.read_kernel_configs(dut, dut.profile.kernel_config_paths):
        if kconfig.config_is_for(text, ident.kernel, named_for_release=RELEASE in path):
            return kconfig.parse_kconfig(text)
    return None


@pytest.fixture(scope="module")
def module_files(dut, suite_data, own_kernel):
    folder = reads.shell_path(suite_data["module_dir"])
    names = " -o ".join(f"-name '{p}'" for p in smcrypto.MODULE_PATTERNS)
    result = dut.run(f"find {folder} \\( {names} \\) 2>/dev/null", timeout=60)
    return [line.strip() for line in result.stdout_text.splitlines() if line.strip()]


def _kernel_offers(kernel_algs, kernel_config, module_files, alg):
    offered, why = smcrypto.kernel_offers(kernel_algs, alg, kernel_config, module_files)
    assert offered, why


@pytest.mark.requirement("CRYPTO-K-SM3-001")
def test_kernel_sm3(own_kernel, kernel_algs, kernel_config, module_files):
    _kernel_offers(kernel_algs, kernel_config, module_files, "sm3")


@pytest.mark.requirement("CRYPTO-K-SM4-001")
def test_kernel_sm4(own_kernel, kernel_algs, kernel_config, module_files):
    _kernel_offers(kernel_algs, kernel_config, module_files, "sm4")


@pytest.mark.requirement("CRYPTO-K-SM2-001")
def test_kernel_sm2(own_kernel, kernel_algs, kernel_config, module_files):
    _kernel_offers(kernel_algs, kernel_config, module_files, "sm2")


@pytest.mark.requirement("CRYPTO-K-SELF-001")
def test_kernel_selftests(own_kernel, kernel_algs):
    registered = smcrypto.national_algs(kernel_algs)
    if not registered:
        pytest.skip("no national algorithm is registered in /proc/crypto to have run a self-test")
    failed = smcrypto.failed_selftests(kernel_algs)
    assert not failed, "; ".join(failed)


@pytest.mark.requirement("CRYPTO-K-ACCEL-001")
def test_kernel_uses_cpu_sm_instructions(own_kernel, dut, kernel_algs):
    cpuinfo = reads.read_file(dut, "/proc/cpuinfo", limit=reads.LARGE)
    assert cpuinfo, "/proc/cpuinfo is unreadable"
    features = smcrypto.cpu_features(cpuinfo)
    if not smcrypto.offered_accelerations(features):
        pytest.skip("the CPU lists no sm3/sm4 feature in /proc/cpuinfo: nothing to accelerate")
    missing = smcrypto.missing_accelerated(kernel_algs, features)
    assert not missing, "; ".join(missing)


@pytest.mark.requirement("CRYPTO-K-AFALG-001")
def test_kernel_user_api(own_kernel, dut, kernel_config, module_files):
    assert kernel_config is not None, "no kernel config for the running kernel to read AF_ALG options from"
    loaded = smcrypto.loaded_modules(reads.read_file(dut, "/proc/modules", limit=reads.LARGE) or "")
    problems = smcrypto.user_api_problems(kernel_config, module_files, loaded)
    assert not problems, "user space cannot reach the kernel's crypto API (AF_ALG): " + "; ".join(problems)


@dataclass(frozen=True)
class Command:
    name: str
    present: bool

    def need(self) -> str:
        # A device without the command is the product's finding, so the test itself fails: a failure in
        # a fixture's setup would be recorded as an ERROR, which says the lab could not decide.
        if not self.present:
            pytest.fail(f"no {self.name} command on the device: the userland crypto library cannot be "
                        "examined")
        return self.name


@pytest.fixture(scope="module")
def openssl(dut, suite_data):
    if dut.profile.family == "ohos":
        pytest.skip("OpenHarmony ships no openssl command; CRYPTO-OHOS-001 checks its system library")
    tool = suite_data["openssl"]
    return Command(tool, reads.which(dut, tool) is not None)


def _listing(dut, openssl, what):
    result = dut.run(f"{openssl} list -{what}-algorithms", timeout=60)
    assert result.ok, f"{openssl} list -{what}-algorithms failed {reads.failure_detail(result)}"
    return result.stdout_text


@pytest.mark.requirement("CRYPTO-U-LIB-001")
def test_openssl_version(dut, openssl):
    openssl = openssl.need()
    result = dut.run(f"{openssl} version", timeout=30)
    version = smcrypto.openssl_version(result.stdout_text)
    assert version, f"{openssl} version said {result.stdout_text.strip()[:200]!r}, not an OpenSSL version"
    assert version >= (1, 1, 1), f"OpenSSL {'.'.join(map(str, version))} predates SM2/SM3/SM4 (1.1.1)"


@pytest.mark.requirement("CRYPTO-U-SM3-001")
def test_openssl_lists_sm3(dut, openssl):
    openssl = openssl.need()
    missing = smcrypto.missing_names(_listing(dut, openssl, "digest"), ["SM3"])
    assert not missing, f"{openssl} list -digest-algorithms lacks {missing}"


@pytest.mark.requirement("CRYPTO-U-SM3-002")
def test_openssl_sm3_known_answer(dut, openssl):
    openssl = openssl.need()
    result = dut.run(f"printf abc | {openssl} dgst -sm3", timeout=30)
    assert result.ok, f"{openssl} dgst -sm3 failed {reads.failure_detail(result)}"
    digest = smcrypto.digest_of(result.stdout_text)
    assert digest == smcrypto.SM3_ABC, f"SM3(abc) = {digest!r}, the standard says {smcrypto.SM3_ABC}"


@pytest.mark.requirement("CRYPTO-U-SM4-001")
def test_openssl_lists_sm4_modes(dut, openssl, suite_data):
    openssl = openssl.need()
    missing = smcrypto.missing_names(_listing(dut, openssl, "cipher"), suite_data["sm4_modes"])
    assert not missing, f"{openssl} list -cipher-algorithms lacks {missing}"


@pytest.mark.requirement("CRYPTO-U-SM4-002")
def test_openssl_sm4_known_answer(dut, openssl):
    openssl = openssl.need()
    key = smcrypto.SM4_KEY
    plaintext = smcrypto.octal_escapes(key)  # the standard's example encrypts the key itself
    command = f"printf '{plaintext}' | {openssl} enc -sm4-ecb -nopad -K {key} | od -An -tx1"
    result = dut.run(command, timeout=30)
    assert result.ok, f"SM4-ECB encryption failed {reads.failure_detail(result)}"
    got = smcrypto.hex_of_od(result.stdout_text)
    assert got == smcrypto.SM4_CIPHERTEXT, f"SM4 gave {got!r}, the standard says {smcrypto.SM4_CIPHERTEXT}"


@pytest.fixture
def scratch(dut):
    place = reads.make_scratch(dut, dut.profile.scratch_dirs, tag="harness-sm2")
    yield place
    if place.path:
        dut.run(f"rm -rf {shlex.quote(place.path)}", timeout=30)


@pytest.mark.requirement("CRYPTO-U-SM2-001")
def test_openssl_sm2_sign_verify(dut, openssl, scratch):
    openssl = openssl.need()
    if scratch.path is None:
        pytest.fail(scratch.problem)
    d = shlex.quote(scratch.path)
    # ecparam + dgst, not genpkey/pkeyutl -rawin: these spell the same on OpenSSL 1.1.1 and 3.x.
    steps = (
        f"cd {d} && {openssl} ecparam -genkey -name SM2 -out key.pem"
        f" && {openssl} ec -in key.pem -pubout -out pub.pem"
        f" && printf 'harness sm2' > msg && {openssl} dgst -sm3 -sign key.pem -out sig msg"
        f" && {openssl} dgst -sm3 -verify pub.pem -signature sig msg"
    )
    result = dut.run(steps, timeout=60)
    assert result.ok and smcrypto.verified(result.stdout_text), (
        f"SM2 key generation, signature or verification failed {reads.failure_detail(result)}"
    )


@pytest.mark.requirement("CRYPTO-OHOS-001")
def test_ohos_crypto_library(dut, suite_data):
    found = {}
    for path in suite_data["crypto_libraries"]:
        if reads.exists(dut, path, "-f"):
            out = dut.run(f"grep -ao 'EVP_sm[234][a-z0-9_]*' {shlex.quote(path)} | sort -u", timeout=60)
            found[path] = smcrypto.exported_sm_symbols(out.stdout_text)
    assert found, f"none of {suite_data['crypto_libraries']} exists"
    symbols = set().union(*found.values())
    missing = [s for s in ("EVP_sm3", "EVP_sm4_cbc") if s not in symbols]
    assert not missing, f"{', '.join(found)} carries no {missing}"
