"""The job queue pages' fixed strings (en, zh), merged into i18n.STRINGS."""

from __future__ import annotations

JOB_STRINGS: dict[str, tuple[str, str]] = {
    "jobs": ("Lab jobs", "测试任务"),
    "job": ("Job", "任务"),
    "lab_devices": ("Lab devices", "实验室设备"),
    "host": ("Host", "主机"),
    "suites": ("Suites", "测试套件"),
    "all_suites": ("every suite", "全部套件"),
    "health_check": ("health check", "健康检查"),
    "submitter": ("Submitted by", "提交者"),
    "queued_at": ("Queued", "排队时间"),
    "started_at": ("Started", "开始时间"),
    "ended_at": ("Ended", "结束时间"),
    "starts": ("Starts", "启动次数"),
    "active_only": ("Only queued and running", "仅排队与运行中"),
    "health": ("Health", "健康状态"),
    "tags": ("Tags", "标签"),
    "running": ("Running", "运行中"),
    "queued": ("Queued", "排队"),
    "quarantined": ("quarantined", "已隔离"),
    "offline": ("host offline", "主机离线"),
    "reserved_by": ("reserved by {who}", "已被 {who} 预留"),
    "job_state_queued": ("queued", "排队中"),
    "job_state_waiting": ("waiting", "等待中"),
    "job_state_running": ("running", "运行中"),
    "job_state_pass": ("pass", "通过"),
    "job_state_fail": ("fail", "失败"),
    "job_state_error": ("error (lab trouble)", "错误（实验室故障）"),
    "job_state_cancelled": ("cancelled", "已取消"),
    "queue_unavailable": ("The lab's job queue cannot be reached now.", "暂时无法连接实验室任务队列。"),
}
