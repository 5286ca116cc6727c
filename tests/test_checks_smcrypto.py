"""National cryptography checks on real captured outputs: this machine's Debian (its kernel's
/proc/crypto, OpenSSL 3.0's lists and answers), the QEMU tier's Debian arm64 kernel (/proc/crypto,
cpuinfo, the package's own config). Records a real kernel with SM built in would show are written
inline where no captured kernel has them, and say so."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from harness.checks import kconfig, smcrypto

DATA = Path(__file__).parent / "data" / "captured"


def text(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# Layout of /proc/crypto records (as the Debian captures show), for algorithms neither captured kernel has.
SM_RECORDS = """name         : sm3
driver       : sm3-ce
module       : sm3_ce
priority     : 200
refcnt       : 1
selftest     : passed
internal     : no
type         : shash

name         : sm3
driver       : sm3-generic
module       : sm3_generic
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : shash

name         : sm4
driver       : sm4-generic
module       : sm4_generic
priority     : 100
refcnt       : 1
selftest     : failed
internal     : no
type         : cipher
"""


def test_real_kernels_list_their_algorithms_and_no_sm():
    for name in ("debian-proc-crypto.txt", "qemu-arm64-proc-crypto.txt"):
        algs = smcrypto.parse_proc_crypto(text(name))
        assert any(a.name == "sha256" and a.selftest == "passed" for a in algs), name
        assert smcrypto.national_algs(algs) == []
        assert smcrypto.failed_selftests(algs) == []


def test_qemu_kernel_without_sm_fails_with_what_its_config_says():
    algs = smcrypto.parse_proc_crypto(text("qemu-arm64-proc-crypto.txt"))
    config = kconfig.parse_kconfig(text("debian-arm64-6.1-config-crypto.txt"))
    offered, why = smcrypto.kernel_offers(algs, "sm3", config, [])
    assert not offered
    assert "/proc/crypto does not list sm3" in why and "CONFIG_CRYPTO_SM3_GENERIC is not set" in why
    assert smcrypto.kernel_offers(algs, "sm2", None, [])[1].endswith("the kernel config is unreadable")


def test_a_module_counts_only_when_built_and_installed():
    algs = smcrypto.parse_proc_crypto(text("qemu-arm64-proc-crypto.txt"))
    modular = {"CONFIG_CRYPTO_SM4_GENERIC": "m"}
    path = "/lib/modules/6.1.0-57-arm64/kernel/crypto/sm4_generic.ko.xz"
    assert smcrypto.kernel_offers(algs, "sm4", modular, [path]) == (
        True, f"CONFIG_CRYPTO_SM4_GENERIC=m and the module is installed ({path})")
    offered, why = smcrypto.kernel_offers(algs, "sm4", modular, [])
    assert not offered and "but no sm4 module is installed" in why
    # sm3 files do not make sm4 offered
    assert not smcrypto.kernel_offers(algs, "sm4", modular, ["/lib/modules/x/sm3_generic.ko"])[0]


def test_listed_sm_algorithms_selftests_and_acceleration():
    algs = smcrypto.parse_proc_crypto(SM_RECORDS)
    assert smcrypto.kernel_offers(algs, "sm3", None, [])[0]
    assert smcrypto.failed_selftests(algs) == ["sm4 (sm4-generic): selftest failed"]
    features = smcrypto.cpu_features("Features\t: fp asimd sm3 sm4 sha3\n")
    assert smcrypto.offered_accelerations(features) == ["sm3", "sm4"]
    assert smcrypto.missing_accelerated(algs, features) == [
        "the CPU offers sm4 but no sm4-ce driver is registered"]


def test_qemu_cpu_offers_no_sm_instructions():
    features = smcrypto.cpu_features(text("qemu-arm64-cpuinfo.txt"))
    assert {"fp", "asimd", "aes"} <= features
    assert smcrypto.offered_accelerations(features) == []


def test_debian_openssl_carries_sm2_sm3_sm4():
    assert smcrypto.openssl_version(text("debian-openssl-version.txt")) == (3, 0, 19)
    assert smcrypto.missing_names(text("debian-openssl-digests.txt"), ["SM3"]) == []
    assert smcrypto.missing_names(text("debian-openssl-ciphers.txt"), ["SM4-ECB", "SM4-CBC", "SM4-CTR"]) == []
    assert smcrypto.missing_names(text("debian-openssl-pkey.txt"), ["SM2"]) == []
    assert smcrypto.missing_names(text("debian-openssl-digests.txt"), ["SM4-CBC", "NOSUCH-9"]) == [
        "SM4-CBC", "NOSUCH-9"]


def test_debian_openssl_known_answers():
    assert smcrypto.digest_of(text("debian-openssl-sm3-abc.txt")) == smcrypto.SM3_ABC
    assert smcrypto.hex_of_od(text("debian-openssl-sm4-od.txt")) == smcrypto.SM4_CIPHERTEXT
    assert smcrypto.verified(text("debian-openssl-verify-ok.txt"))
    assert not smcrypto.verified(text("debian-openssl-verify-bad.txt"))  # "Verification failure"
    assert smcrypto.digest_of("sm3: unknown option") is None


def test_octal_escapes_write_the_bytes():
    assert smcrypto.octal_escapes("0123ff") == "\\001\\043\\377"


def test_scope_is_the_domestic_profiles_or_a_tag():
    assert smcrypto.scope_reason("openeuler", ()) is None
    assert smcrypto.scope_reason("generic-linux", ("sm-crypto",)) is None
    reason = smcrypto.scope_reason("android", ())
    assert reason and "android" in reason and "'sm-crypto'" in reason


def test_only_a_device_tagged_as_on_the_lab_hosts_kernel_skips_the_kernel_checks():
    assert smcrypto.shared_kernel_reason(("arm64", "sm-crypto")) is None
    reason = smcrypto.shared_kernel_reason(("arm64", smcrypto.SHARED_KERNEL_TAG))
    # The SKIP's reason, whole: what is the host's and not the device's, so a reader knows what went unjudged.
    assert reason == ("the device shares the lab host's kernel (inventory tag 'shared-host-kernel'): "
                      "/proc/crypto, its modules and AF_ALG are the host's, not the device's own kernel's")


def test_openharmony_library_symbols():
    found = smcrypto.exported_sm_symbols("EVP_sm3\nEVP_sm4_cbc\nEVP_sm4_ecb\nEVP_sha256\n")
    assert found == {"EVP_sm3", "EVP_sm4_cbc", "EVP_sm4_ecb"}


# -- rules of the parsers and judgements, on records written inline ------------------------------------
def test_proc_crypto_records_with_missing_or_odd_fields():
    algs = smcrypto.parse_proc_crypto("name : sm3\npriority : high\n \ndriver : nameless\n\n"
                                      "name: sm4\ndriver: sm4-ce\nmodule: kernel\ntype: cipher\npriority: 300\n"
                                      "selftest: unknown\n")
    assert algs == [smcrypto.KernelAlg("sm3", "", "", "", 0, ""),
                    smcrypto.KernelAlg("sm4", "sm4-ce", "kernel", "cipher", 300, "unknown")]
    assert smcrypto.failed_selftests(algs) == ["sm4 (sm4-ce): selftest unknown"]  # only passed (or none) passes


def test_listed_algorithms_name_every_driver():
    algs = smcrypto.parse_proc_crypto(SM_RECORDS)
    assert smcrypto.kernel_offers(algs, "sm3", None, []) == (True, "/proc/crypto lists sm3 (driver sm3-ce, sm3-generic)")


@pytest.mark.parametrize(("files", "offered"), [
    (["/lib/modules/6.6/kernel/crypto/sm3.ko"], True),
    (["/lib/modules/6.6/kernel/arch/arm64/crypto/sm3-ce.ko.zst"], True),
    (["sm3_generic.ko"], True),  # a bare name, as `find -printf %f` gives it
    (["/lib/modules/6.6/kernel/crypto/xsm3.ko"], False),
    (["/lib/modules/6.6/kernel/crypto/sm3.ko.orig/"], False),
    (["/lib/modules/6.6/kernel/crypto/sm3.kox"], False),
])
def test_which_module_file_is_the_algorithm(files, offered):
    config = {"CONFIG_CRYPTO_SM3": "m"}
    assert smcrypto.kernel_offers([], "sm3", config, files)[0] is offered


def test_the_config_is_quoted_option_by_option():
    config = {"CONFIG_CRYPTO_SM3": "y"}
    assert smcrypto.kernel_offers([], "sm3", config, []) == (
        False, "/proc/crypto does not list sm3; CONFIG_CRYPTO_SM3=y, CONFIG_CRYPTO_SM3_GENERIC absent")
    modular = {"CONFIG_CRYPTO_SM3": "n", "CONFIG_CRYPTO_SM3_GENERIC": "m"}
    assert smcrypto.kernel_offers([], "sm3", modular, ["/x/sm3_generic.ko"]) == (
        True, "CONFIG_CRYPTO_SM3_GENERIC=m and the module is installed (/x/sm3_generic.ko)")
    assert smcrypto.kernel_offers([], "sm3", modular, []) == (
        False, "/proc/crypto does not list sm3; CONFIG_CRYPTO_SM3 is not set, CONFIG_CRYPTO_SM3_GENERIC=m but no sm3 "
               "module is installed")


def test_national_algorithms_and_their_selftests_include_templates_over_them():
    algs = [smcrypto.KernelAlg(n, f"{n}-drv", "", "", 0, t) for n, t in
            [("hmac(sm3)", "failed"), ("cbc(sm4)", "passed"), ("sm2", ""), ("sm30", "failed"), ("xsm3", "failed"),
             ("hmac(sha256)", "failed")]]
    assert [a.name for a in smcrypto.national_algs(algs)] == ["hmac(sm3)", "cbc(sm4)", "sm2"]
    assert smcrypto.failed_selftests(algs) == ["hmac(sm3) (hmac(sm3)-drv): selftest failed",
                                               "sm30 (sm30-drv): selftest failed"]


def test_cpu_features_on_arm_and_x86():
    assert smcrypto.cpu_features("processor : 0\nflags\t\t: fpu sm3\nFeatures: sm4\nmodel: sm2\n") == {
        "fpu", "sm3", "sm4"}


def test_acceleration_judged_per_offered_feature():
    def alg(name: str, driver: str, priority: int) -> smcrypto.KernelAlg:
        return smcrypto.KernelAlg(name, driver, "", "", priority, "passed")
    low = [alg("sm4", "sm4-ce", 100), alg("sm4", "sm4-generic", 100)]
    assert smcrypto.missing_accelerated(low, {"sm4"}) == [
        "sm4-ce is registered at a priority no higher than sm4-generic"]
    high = [alg("sm4", "sm4-ce", 300), alg("sm4", "sm4-neon", 200), alg("sm4", "sm4-generic", 100)]
    assert smcrypto.missing_accelerated(high, {"sm4"}) == []
    alone = [alg("sm4", "sm4-ce-ccm", 0)]  # no generic driver to rank below
    assert smcrypto.missing_accelerated(alone, {"sm4"}) == []
    assert smcrypto.missing_accelerated([], {"sm4"}) == ["the CPU offers sm4 but no sm4-ce driver is registered"]


def test_openssl_versions_and_listed_names():
    assert smcrypto.openssl_version("OpenSSL 1.1.1w  11 Sep 2023") == (1, 1, 1)
    assert smcrypto.openssl_version("LibreSSL 3.8.2") is None
    listing = ("Legacy:\n  SM3 => SM3\n  { 1.2.156.10197.1.401, sm3 } @ default\n"
               "  { 1.2.156.10197.1.104.2, SM4-CBC, SM4\n  sm4-ctr something\n"
               " Name: OpenSSL SM2 implementation\n")
    assert smcrypto.listed_names(listing) >= {"SM3", "SM4-CBC", "SM4", "SM4-CTR", "SM2"}
    assert "LEGACY:" not in smcrypto.listed_names(listing) and "1.2.156.10197.1.401" not in smcrypto.listed_names(
        listing)
    assert smcrypto.missing_names(listing, ["sm4-ctr", "SM9"]) == ["SM9"]


def test_digests_bytes_symbols_and_verification_as_printed():
    assert smcrypto.digest_of("SM3(stdin)= " + smcrypto.SM3_ABC.upper() + "\n") == smcrypto.SM3_ABC
    assert smcrypto.digest_of("SM3(stdin)= 66c7f0f4") is None  # too short to be a digest
    assert smcrypto.hex_of_od("0000000 68 1E df\n0000003\n") == "681edf"
    assert smcrypto.exported_sm_symbols("xEVP_sm3 EVP_sm2 EVP_sm4_ctr EVP_sm3x") == {"EVP_sm2", "EVP_sm4_ctr"}
    assert smcrypto.verified("Reading\n  Verified OK  \n")
    assert not smcrypto.verified("Not Verified OK\n")


def test_a_record_value_is_all_after_the_first_colon_and_a_missing_priority_is_zero():
    algs = smcrypto.parse_proc_crypto("name : sm4\ndriver : sm4-ce:v8\nmodule : sm4_ce\n")
    assert algs == [smcrypto.KernelAlg("sm4", "sm4-ce:v8", "sm4_ce", "", 0, "")]


def test_an_unreadable_config_offers_nothing():
    assert smcrypto.kernel_offers([], "sm2", None, ["/x/sm2_generic.ko"]) == (
        False, "/proc/crypto does not list sm2 and the kernel config is unreadable")


@pytest.mark.parametrize(("listing", "names"), [
    ("{ 1.2.156.10197.1.401, SM3 } @ default\n", {"SM3"}),  # OpenSSL 3: the OID, then the names
    ("  { 1.2.156.10197.1.104.2, SM4-CBC, SM4 } @ default\n", {"SM4-CBC", "SM4"}),
    ("SM3\n  RSA-SM3 => sm3WithRSAEncryption\n", {"SM3", "RSA-SM3", "SM3WITHRSAENCRYPTION"}),  # 1.1: aliases
])
def test_each_form_of_an_openssl_list_line(listing, names):
    assert smcrypto.listed_names(listing) == names


# /proc/modules of the QEMU tier's board (Debian's arm64 6.1 kernel): only the virt machine's virtio drivers.
QEMU_PROC_MODULES = """virtio_rng 16384 0 - Live 0xffff800008f1d000
virtio_net 57344 0 - Live 0xffff800008f0a000
net_failover 20480 1 virtio_net, Live 0xffff800008f01000
failover 16384 1 net_failover, Live 0xffff800008ef9000
virtio_mmio 20480 0 - Live 0xffff800008ef0000
"""


def test_af_alg_built_as_modules_counts_only_once_they_can_load():
    config = kconfig.parse_kconfig(text("debian-arm64-6.1-config-crypto.txt"))
    loaded = smcrypto.loaded_modules(QEMU_PROC_MODULES)
    assert loaded == {"virtio_rng", "virtio_net", "net_failover", "failover", "virtio_mmio"}
    # The QEMU board's image carries the virtio modules only: =m loads nothing there.
    assert smcrypto.user_api_problems(config, ["/lib/modules/6.1.0-57-arm64/virtio_net.ko"], loaded) == [
        f"{option}=m but the {module} module is neither loaded nor installed"
        for option, module in smcrypto.USER_API_MODULES.items()
    ]
    # The installed kernel package has them (xz-compressed on newer Debian); a loaded one counts too.
    installed = ["/lib/modules/6.1.0-57-arm64/kernel/crypto/af_alg.ko",
                 "/lib/modules/6.1.0-57-arm64/kernel/crypto/algif_hash.ko.xz"]
    assert smcrypto.user_api_problems(config, installed, loaded | {"algif_skcipher"}) == []
    assert smcrypto.user_api_problems(config, installed, loaded) == [
        "CONFIG_CRYPTO_USER_API_SKCIPHER=m but the algif_skcipher module is neither loaded nor installed"]


def test_af_alg_module_files_are_matched_by_whole_name():
    config = dict.fromkeys(smcrypto.USER_API_MODULES, "m")
    everything = {"af_alg", "algif_hash"}
    for files, offered in (
        (["/m/algif-skcipher.ko"], True),  # a file may spell _ as -
        (["/m/algif_skcipher.ko.zst"], True),
        (["/m/xalgif_skcipher.ko"], False),
        (["/m/algif_skcipher.ko.1"], False),
        (["/m/algif_skcipherx.ko"], False),
        (["algif_skcipher.ko"], True),
        (["/m/algif_skcipher.kox"], False),
    ):
        assert (smcrypto.user_api_problems(config, files, everything) == []) is offered, files


def test_af_alg_built_in_needs_nothing_and_each_missing_option_is_named():
    assert smcrypto.user_api_problems(dict.fromkeys(smcrypto.USER_API_MODULES, "y"), [], set()) == []
    # This machine's own kernel (Debian on x86_64, its /proc/config.gz): no AF_ALG at all.
    host = {"CONFIG_CRYPTO_USER_API_HASH": kconfig.NOT_SET, "CONFIG_CRYPTO_USER_API_SKCIPHER": "q"}
    assert smcrypto.user_api_problems(host, [], set()) == [
        "CONFIG_CRYPTO_USER_API absent",
        "CONFIG_CRYPTO_USER_API_HASH is not set",
        "CONFIG_CRYPTO_USER_API_SKCIPHER=q",
    ]
    assert smcrypto.loaded_modules("\n  \nzram 1 0 - Live\n") == {"zram"}


def test_module_patterns_find_every_module_the_checks_name():
    names = ["sm3_generic.ko", "sm4-ce.ko.xz", "sm2_generic.ko", "af_alg.ko", "algif_hash.ko.zst"]
    assert all(any(fnmatch.fnmatch(n, p) for p in smcrypto.MODULE_PATTERNS) for n in names)
    assert not any(fnmatch.fnmatch("virtio_net.ko", p) for p in smcrypto.MODULE_PATTERNS)
