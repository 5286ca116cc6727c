"""The report's fixed strings in English and Chinese. Both languages are rendered into the page, each in
an element with its `lang` attribute; CSS shows one, the page's switch flips which."""

from __future__ import annotations

from markupsafe import Markup, escape

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
HTML_LANG = {"zh": "zh-Hans", "en": "en"}  # the BCP 47 tags the page uses

STRINGS: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "title": ("Certification report", "认证报告"),
    "index_title": ("Certification runs", "认证运行记录"),
    "switch": ("中文", "English"),  # the switch names the other language
    "verdicts": ("Verdict per device", "各设备判定"),
    "device": ("Device", "设备"),
    "devices": ("Devices", "设备"),
    "verdict": ("Verdict", "判定"),
    "os": ("OS", "操作系统"),
    "reasons": ("Why", "原因"),
    "unreachable": ("unreachable", "无法连接"),
    "interrupted": ("interrupted", "已中断"),
    "identity_changed": ("the device build changed during the run", "运行期间设备构建发生变化"),
    "matrix": ("Requirement matrix", "需求矩阵"),
    "req_source": ("Source", "依据"),
    "req_destructive": ("Destructive", "破坏性操作"),
    "requirement": ("Requirement", "需求"),
    "level": ("Level", "级别"),
    "req_title": ("Title", "名称"),
    "failures": ("Failures and errors", "失败与错误"),
    "no_failures": ("No test failed or errored.", "没有失败或出错的测试。"),
    "evidence": ("Evidence", "证据"),
    "exit_code": ("Exit code", "退出码"),
    "did_not_finish": ("did not finish", "未完成"),
    "duration": ("Duration", "耗时"),
    "message": ("Message", "信息"),
    "no_evidence": ("No command was recorded.", "未记录命令。"),
    "truncated": ("output truncated; the full copy is in logs/", "输出已截断；完整内容见 logs/"),
    "charts": ("Charts", "图表"),
    "chart_suites": ("Outcomes per suite", "各套件结果"),
    "chart_devices": ("Outcomes per device", "各设备结果"),
    "chart_durations": ("Time per suite (seconds, all devices)", "各套件耗时（秒，全部设备）"),
    "chart_metrics": ("Performance metrics against their thresholds", "性能指标与阈值"),
    "no_metrics": ("No metric was recorded.", "未记录性能指标。"),
    "tests": ("All tests", "全部测试"),
    "test": ("Test", "测试"),
    "suite": ("Suite", "套件"),
    "outcome": ("Outcome", "结果"),
    "shown": ("shown", "条显示"),
    "identity": ("Device identity", "设备身份"),
    "run": ("Run", "运行信息"),
    "run_id": ("Run id", "运行编号"),
    "operator": ("Operator", "操作者"),
    "host": ("Host", "主机"),
    "start": ("Start", "开始"),
    "end": ("End", "结束"),
    "harness_version": ("Harness version", "测试框架版本"),
    "suites": ("Suites", "测试套件"),
    "version": ("Version", "版本"),
    "content_hash": ("Content hash", "内容哈希"),
    "command_line": ("Command line", "命令行"),
    "signing_key": ("Signing key", "签名密钥"),
    "verify_hint": (
        "Check this bundle with: harness verify BUNDLE --pubkey lab-signing.pub",
        "校验本报告包：harness verify BUNDLE --pubkey lab-signing.pub",
    ),
    "waivers": ("Waivers", "豁免"),
    "none": ("none", "无"),
    "kind": ("Kind", "类型"),
    "profile": ("Profile", "配置"),
    "date": ("Date", "日期"),
    "report": ("Report", "报告"),
    "bundle": ("Signed bundle", "签名报告包"),
    "no_runs": ("No published run yet.", "尚无已发布的运行。"),
    "no_results": ("no results", "无结果"),
    "flaky": ("flaky", "不稳定"),
}

IDENTITY_LABELS: dict[str, tuple[str, str]] = {
    "os_name": ("OS name", "操作系统名称"),
    "os_version": ("OS version", "操作系统版本"),
    "kernel": ("Kernel", "内核"),
    "arch": ("Architecture", "架构"),
    "model": ("Model", "型号"),
    "serial": ("Serial number", "序列号"),
    "fingerprint": ("Build fingerprint", "构建指纹"),
    "security_patch": ("Security patch", "安全补丁"),
}

# Outcome, verdict and requirement-status words.
WORDS: dict[str, tuple[str, str]] = {
    "PASS": ("PASS", "通过"),
    "FAIL": ("FAIL", "失败"),
    "ERROR": ("ERROR", "错误"),
    "SKIP": ("SKIP", "跳过"),
    "NOT_RUN": ("NOT RUN", "未运行"),
    "CERTIFIED": ("CERTIFIED", "通过认证"),
    "CONDITIONAL": ("CONDITIONAL", "有条件通过"),
    "NOT CERTIFIED": ("NOT CERTIFIED", "未通过认证"),
    "INCOMPLETE": ("INCOMPLETE", "不完整"),
    "pass": ("pass", "通过"),
    "fail": ("fail", "失败"),
    "incomplete": ("incomplete", "不完整"),
    "skipped": ("skipped", "跳过"),
    "not-covered": ("not covered", "未覆盖"),
    "not-applicable": ("n/a", "不适用"),
    "waived": ("waived", "豁免"),
    "waiver-applied": ("applied", "已应用"),
    "waiver-expired": ("expired: does not apply", "已过期：不适用"),
    "waiver-out-of-scope": ("out of scope: does not apply", "不在适用范围：不适用"),
    "MUST": ("MUST", "必须"),
    "SHOULD": ("SHOULD", "应当"),
}


def bilingual(en: str, zh: str) -> Markup:
    """Both languages, each marked with its lang attribute (text escaped)."""
    return Markup('<span lang="en">{}</span><span lang="zh-Hans">{}</span>').format(escape(en), escape(zh))


def t(key: str) -> Markup:
    en, zh = STRINGS[key]
    return bilingual(en, zh)


def word(value: str) -> Markup:
    """An outcome, verdict, status or level in both languages; unknown values shown as they are."""
    en, zh = WORDS.get(value, (value, value))
    return bilingual(en, zh)


def plain(key: str, lang: str) -> str:
    """One language's text, for attributes (placeholder, title) that cannot hold two elements."""
    en, zh = STRINGS[key]
    return zh if lang == "zh" else en
