"""The platform pages' fixed strings in English and Chinese, rendered both at once as the report does
(each in an element with its lang attribute; CSS shows one, the switch flips which and remembers it)."""

from __future__ import annotations

from markupsafe import Markup

from ...report.i18n import WORDS, bilingual
from .cert_i18n import CERT_STRINGS
from .job_i18n import JOB_STRINGS

STRINGS: dict[str, tuple[str, str]] = {  # key: (en, zh)
    "platform": ("Adaptation test platform", "适配测试平台"),
    "switch": ("中文", "English"),
    "submissions": ("Submissions", "提交记录"),
    "submission": ("Submission", "提交"),
    "products": ("Products", "产品"),
    "product": ("Product", "产品"),
    "keys": ("Signing keys", "签名密钥"),
    "tokens": ("API tokens", "API 令牌"),
    "logout": ("Log out", "退出登录"),
    "login": ("Log in", "登录"),
    "username": ("User name", "用户名"),
    "password": ("Password", "密码"),
    "bad_login": ("Wrong user name or password.", "用户名或密码错误。"),
    "throttled": ("Too many failed logins. Try again in {s} s.", "登录失败次数过多，请 {s} 秒后重试。"),
    "bad_form": ("The form expired; please try again.", "表单已失效，请重试。"),
    "vendor": ("Vendor", "厂商"),
    "lab": ("Lab", "实验室"),
    "model": ("Product / model", "产品 / 型号"),
    "soc": ("SoC / module", "芯片 / 模组"),
    "os": ("OS", "操作系统"),
    "os_version": ("OS version", "系统版本"),
    "verdict": ("Verdict", "判定"),
    "date_from": ("From", "起始日期"),
    "date_to": ("To", "截止日期"),
    "search": ("Search", "搜索"),
    "search_hint": ("run id, device, fingerprint, serial…", "运行编号、设备、构建指纹、序列号…"),
    "apply": ("Filter", "筛选"),
    "clear": ("Clear", "清除"),
    "any": ("any", "全部"),
    "published": ("Published", "发布时间"),
    "run_id": ("Run id", "运行编号"),
    "devices": ("Devices", "设备"),
    "device": ("Device", "设备"),
    "none_found": ("Nothing matches.", "没有匹配的记录。"),
    "total": ("{n} in all", "共 {n} 条"),
    "page_of": ("page {p} of {n}", "第 {p} / {n} 页"),
    "previous": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "identity": ("Identity", "设备身份"),
    "kernel": ("Kernel", "内核"),
    "arch": ("Architecture", "架构"),
    "fingerprint": ("Build fingerprint", "构建指纹"),
    "serial": ("Serial number", "序列号"),
    "security_patch": ("Security patch", "安全补丁"),
    "reported_model": ("Model reported by the device", "设备上报的型号"),
    "profile": ("Profile", "配置"),
    "kind": ("Kind", "类型"),
    "reasons": ("Why", "原因"),
    "counts": ("PASS / FAIL / ERROR / SKIP / NOT RUN", "通过 / 失败 / 错误 / 跳过 / 未运行"),
    "signature": ("Signature", "签名"),
    "signed_by": ("Signed by lab key", "签名实验室密钥"),
    "key_org": ("Key registered to", "密钥所属机构"),
    "verified_at": ("Verified by the platform", "平台校验时间"),
    "manifest_sha256": ("Manifest SHA-256", "清单 SHA-256"),
    "requirements": ("Requirements", "需求"),
    "requirement": ("Requirement", "需求"),
    "level": ("Level", "级别"),
    "status": ("Status", "状态"),
    "failures": ("Failures and errors", "失败与错误"),
    "no_failures": ("No test failed or errored.", "没有失败或出错的测试。"),
    "more_failures": ("{n} more in the bundle", "其余 {n} 条见报告包"),
    "test": ("Test", "测试"),
    "outcome": ("Outcome", "结果"),
    "message": ("Message", "信息"),
    "download": ("Download and check", "下载与校验"),
    "bundle": ("Signed bundle", "签名报告包"),
    "sha256": ("SHA-256", "SHA-256"),
    "size": ("Size", "大小"),
    "verify_offline": ("Check it offline", "离线校验"),
    "public_key": ("the lab's public key", "实验室公钥"),
    "open_report": ("Open the bundle's report", "打开报告包中的报告"),
    "report_note": (
        "The report opens in a sandbox: it cannot act on the platform.",
        "报告在沙箱中打开，无法操作平台。",
    ),
    "uploaded_by": ("Published by", "发布者"),
    "run_host": ("Run on host", "运行主机"),
    "operator": ("Operator", "操作者"),
    "harness_version": ("Harness version", "测试框架版本"),
    "state": ("State", "状态"),
    "builds": ("Every submission of this product", "该产品的全部提交"),
    "key_id": ("Key id", "密钥编号"),
    "label": ("Label", "标签"),
    "organisation": ("Organisation", "机构"),
    "registered": ("Registered", "登记时间"),
    "revoked": ("Revoked", "已吊销"),
    "active": ("active", "有效"),
    "expired": ("expired", "已过期"),
    "name": ("Name", "名称"),
    "role": ("Role", "角色"),
    "created": ("Created", "创建时间"),
    "expires": ("Expires", "到期时间"),
    "last_used": ("Last used", "最近使用"),
    "revoke": ("Revoke", "吊销"),
    "new_token": ("New token", "新建令牌"),
    "lifetime_days": ("Valid for (days)", "有效期（天）"),
    "create": ("Create", "创建"),
    "token_once": (
        "Copy this token now: it is shown only once, and the platform keeps only its digest.",
        "请立即复制该令牌：它只显示这一次，平台只保存其摘要。",
    ),
    "not_found": ("Not found.", "未找到。"),
    "forbidden": ("Your role may not do this.", "您的角色无权执行此操作。"),
    "signed_in_as": ("Signed in as", "当前用户"),
    "submitted": ("submitted", "已提交"),
}

STRINGS.update(CERT_STRINGS)
STRINGS.update(JOB_STRINGS)

ROLE_WORDS: dict[str, tuple[str, str]] = {
    "admin": ("administrator", "管理员"),
    "officer": ("certification officer", "认证审核员"),
    "lab": ("lab", "实验室"),
    "vendor": ("vendor", "厂商"),
}


def t(key: str, **values: object) -> Markup:
    en, zh = STRINGS[key]
    return bilingual(en.format(**values), zh.format(**values))


def word(value: str) -> Markup:
    en, zh = WORDS.get(value) or ROLE_WORDS.get(value) or STRINGS.get(value) or (value, value)
    return bilingual(en, zh)


def plain(key: str, lang: str) -> str:
    en, zh = STRINGS[key]
    return zh if lang == "zh" else en
