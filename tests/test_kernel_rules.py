"""The kernel rules a suite author writes and a lab relies on: fragment syntax, which fragments apply
to which device, whether a config belongs to the running kernel, kernel versions, and the kABI lists.
Pure parsers and rules (harness.checks.kconfig, kversion, kabi); no device."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import kabi, kconfig, kversion
from harness.checks.kconfig import Expect, FragmentError, FragmentSpec, RuleKind, Term

HEADER = "#\n# Linux/arm64 {version} Kernel Configuration\n#\n"


def _config(version: str, local: str = "", body: str = "CONFIG_MODULES=y\n") -> str:
    return HEADER.format(version=version) + f'CONFIG_LOCALVERSION="{local}"\n' + body


# -- fragment syntax --------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["CONFIG_DEVMEM=n", "# CONFIG_DEVMEM is not set", "!CONFIG_DEVMEM", "! CONFIG_DEVMEM"])
def test_every_way_of_forbidding_an_option_forbids_it(line: str) -> None:
    (rule,) = kconfig.parse_fragment(line, "sec.config")
    assert rule.kind is RuleKind.FORBIDDEN
    assert rule.terms == (Term("CONFIG_DEVMEM", Expect.UNSET),)
    assert rule.holds({}) and rule.holds({"CONFIG_DEVMEM": "n"})
    assert not rule.holds({"CONFIG_DEVMEM": "y"}) and not rule.holds({"CONFIG_DEVMEM": "m"})


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("!foo", "not a config rule: '!foo'"),  # a typo must not become a rule that always holds
        ("!", "not a config rule: '!'"),
        ("!CONFIG_A=y", "not a config rule: '!CONFIG_A=y'"),
        ("CONFIG_B=", "empty value in 'CONFIG_B='"),
        ("CONFIG_A=y | OF=y", "not a config rule: 'OF=y'"),
        ("config_a=y", "not a config rule: 'config_a=y'"),
    ],
)
def test_a_bad_rule_is_refused_with_file_line_and_text(line: str, why: str) -> None:
    with pytest.raises(FragmentError) as caught:
        kconfig.parse_fragment(f"CONFIG_OK=y\n\n{line}\n", "vendor.config")
    assert str(caught.value) == f"vendor.config:3: {why}"


def test_rules_name_where_they_come_from_and_what_the_kernel_has() -> None:
    (rule,) = kconfig.parse_fragment("CONFIG_OF=y | CONFIG_ACPI=y | CONFIG_HZ=250 | !CONFIG_X")
    assert rule.source == "fragment:1"  # the default source name
    assert str(rule) == "CONFIG_OF=y | CONFIG_ACPI=y | CONFIG_HZ=250 | # CONFIG_X is not set"
    have = {"CONFIG_OF": "n", "CONFIG_HZ": "100", "CONFIG_X": "y"}
    assert rule.describe(have) == (
        "CONFIG_OF=y | CONFIG_ACPI=y | CONFIG_HZ=250 | # CONFIG_X is not set "
        "(have CONFIG_OF=n, CONFIG_ACPI=absent, CONFIG_HZ=100, CONFIG_X=y) [fragment:1]"
    )
    assert str(kconfig.parse_term("CONFIG_EXT4_FS")) == "CONFIG_EXT4_FS"


def test_failing_rules_are_only_those_of_the_asked_kind_that_do_not_hold() -> None:
    rules = kconfig.parse_fragment("CONFIG_A=y\nCONFIG_B=y\n!CONFIG_C\nCONFIG_HZ=250\n")
    config = {"CONFIG_A": "y", "CONFIG_C": "y", "CONFIG_HZ": "1000"}
    assert [str(r) for r in kconfig.failing_rules(rules, config, RuleKind.REQUIRED)] == ["CONFIG_B=y"]
    assert [str(r) for r in kconfig.failing_rules(rules, config, RuleKind.FORBIDDEN)] == [
        "# CONFIG_C is not set"]
    assert [str(r) for r in kconfig.failing_rules(rules, config, RuleKind.VALUE)] == ["CONFIG_HZ=250"]


# -- which fragments apply ----------------------------------------------------------------------------


def test_a_fragment_applies_only_to_its_profiles_families_and_os_versions() -> None:
    spec = FragmentSpec("f", profiles=("openeuler", "kylin"), families=("linux",),
                        os_versions=("22.03*", "24.03*"))
    assert spec.applies("openeuler", "linux", "22.03-LTS-SP3", "5.10.0")
    assert spec.applies("kylin", "linux", "24.03", "6.6.0")  # any one of the globs
    assert not spec.applies("openeuler", "linux", "20.03", "5.10.0")
    assert not spec.applies("openeuler", "ohos", "22.03", "5.10.0")
    assert not spec.applies("uos", "linux", "22.03", "5.10.0")
    assert FragmentSpec("g", families=("android", "ohos")).applies("harmonyos", "ohos", "4.0", "5.10.0")
    assert not FragmentSpec("g", families=("android", "ohos")).applies("openeuler", "linux", "1", "5.10.0")


def test_kernel_bounds_are_inclusive_below_and_exclusive_above() -> None:
    spec = FragmentSpec("f", min_kernel="5.10", max_kernel="6.6")
    assert spec.applies("p", "linux", "1", "5.10.0-182.oe2203.aarch64")
    assert spec.applies("p", "linux", "1", "6.5.99")
    assert not spec.applies("p", "linux", "1", "6.6.0")  # exactly at max_kernel: the next fragment's
    assert not spec.applies("p", "linux", "1", "5.9.255")
    with pytest.raises(ValueError, match="not a kernel release"):
        spec.applies("p", "linux", "1", "unknown")  # a garbled release never selects fragments quietly


def test_the_fragment_index_is_read_as_written() -> None:
    index = {"fragment": [
        {"file": "base.config"},
        {"file": "oe.config", "profiles": ["openeuler"], "families": ["linux"], "os_versions": ["22.03*"],
         "min_kernel": "5.10", "max_kernel": "6.1"},
    ]}
    assert kconfig.fragment_specs(index) == [
        FragmentSpec("base.config"),
        FragmentSpec("oe.config", ("openeuler",), ("linux",), ("22.03*",), "5.10", "6.1"),
    ]
    assert kconfig.fragment_specs({}) == []


# -- a config belongs to the running kernel -----------------------------------------------------------


def test_localversion_is_part_of_the_release_a_config_was_built_for() -> None:
    config = _config("6.1.2", "-fc")
    assert kconfig.config_is_for(config, "6.1.2-fc")
    assert kconfig.config_is_for(config, "6.1.2-fc-dirty")  # LOCALVERSION_AUTO's suffix
    assert not kconfig.config_is_for(config, "6.1.2-other")  # same version, another build
    assert kconfig.config_is_for(_config("6.1.2", "-ohosX"), "6.1.2-ohosX")  # the value exactly, any letters


def test_a_config_without_a_localversion_line_is_for_its_version_and_suffixes() -> None:
    config = HEADER.format(version="6.1.2") + "CONFIG_MODULES=y\n"
    assert kconfig.config_is_for(config, "6.1.2")
    assert kconfig.config_is_for(config, "6.1.2-1-arm64")
    assert not kconfig.config_is_for(config, "6.1.3")


def test_a_release_that_goes_on_after_the_version_is_another_kernel() -> None:
    config = _config("6.1.2")
    assert kconfig.config_is_for(config, "6.1.2+")
    assert not kconfig.config_is_for(config, "6.1.23")
    assert not kconfig.config_is_for(config, "6.1.2X")
    assert not kconfig.config_is_for(config, "6.1.2_rc1")


def test_a_garbled_release_or_header_is_never_taken_even_when_named_for_the_release() -> None:
    assert not kconfig.config_is_for(_config("6.1.192"), "garbled", named_for_release=True)
    assert not kconfig.config_is_for(_config("vendor-kernel"), "6.1.0-56-arm64", named_for_release=True)
    assert kconfig.config_is_for(_config("6.1.192"), "6.1.0-56-arm64", named_for_release=True)


def test_only_the_header_at_the_top_says_which_kernel_a_config_is_for() -> None:
    header = "# Linux/arm64 6.1.2 Kernel Configuration"
    assert kconfig.config_header(header + "\n") == ("arm64", "6.1.2")
    # The header is read from the first 2048 bytes: one quoted further down (in a comment, a value) is not it.
    fits = "#" * (2048 - len(header) - 1) + "\n" + header
    assert len(fits) == 2048 and kconfig.config_header(fits) == ("arm64", "6.1.2")
    assert kconfig.config_header("#" + fits) is None  # one byte further: past the top


# -- kernel versions ------------------------------------------------------------------------------------


def test_a_garbled_kernel_release_says_what_it_got() -> None:
    with pytest.raises(ValueError) as caught:
        kversion.parse_kernel_version("Linux 5.10")
    assert str(caught.value) == "not a kernel release: 'Linux 5.10'"
    assert str(kversion.parse_kernel_version(" 5.10")) == "5.10.0"


# -- kABI -----------------------------------------------------------------------------------------------


def test_a_kabi_verdict_is_ok_only_when_both_lists_are_empty() -> None:
    assert kabi.KabiVerdict((), ()).ok
    assert not kabi.KabiVerdict(("kmalloc",), ()).ok
    assert not kabi.KabiVerdict((), ("kfree",)).ok
    only_unexported = kabi.check_kabi({"kfree"}, {"kfree"}, set())
    assert (only_unexported.not_whitelisted, only_unexported.not_exported, only_unexported.ok) == (
        (), ("kfree",), False)


def test_module_symvers_lines_tab_or_space_separated_and_malformed_ones_ignored() -> None:
    text = "\n".join([
        "0x12345678\tkfree\tvmlinux\tEXPORT_SYMBOL\t",
        "0x9abcdef0\tsnd_x\tsound/core\tEXPORT_SYMBOL_GPL\tSND",
        "0x0000abcd\tbuiltin_sym\t\tEXPORT_SYMBOL\t",  # an empty field is still a field
        "0x11111111 spaced vmlinux EXPORT_SYMBOL",  # older tools wrote spaces; exactly 4 fields
        "0x22222222 short vmlinux",  # too few fields
        "12345678\tnohex\tvmlinux\tEXPORT_SYMBOL\t",  # no 0x CRC
        "0x33333333\tnotexport\tvmlinux\tSOMETHING\t",
        "",
    ])
    assert kabi.parse_module_symvers(text) == {"kfree", "snd_x", "builtin_sym", "spaced"}


def test_symbol_lists_take_the_first_token_and_name_a_bad_line(tmp_path: Path) -> None:
    assert kabi.parse_symbol_list("kfree# freed # twice\n  kmalloc  extra\n") == {"kfree", "kmalloc"}
    with pytest.raises(ValueError) as caught:
        kabi.parse_symbol_list("# header\nkfree\nkfree()\n")
    assert str(caught.value) == "symbols:3: not a symbol name: 'kfree()'"
    (tmp_path / "whitelist-ppc64le.txt").write_text("kfree\n# é\nbad-name\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        kabi.load_whitelist(tmp_path, "ppc64le")
    assert str(caught.value) == f"{tmp_path / 'whitelist-ppc64le.txt'}:3: not a symbol name: 'bad-name'"


def test_an_unknown_arch_keeps_its_own_name() -> None:
    assert kabi.normalize_arch(" ppc64le\n") == "ppc64le"
    assert kabi.normalize_arch("aarch64") == "arm64"
    assert kabi.whitelist_path(Path("w"), "sparc64") == Path("w/whitelist-sparc64.txt")
