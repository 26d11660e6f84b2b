"""The console's words: Chinese first (the seeds' wording), English on request."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "app_name": {"zh": "卡盟治理中心", "en": "Kameng governance"},
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "invalid_credentials": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "rate_limited": {"zh": "登录失败次数过多，请稍后再试", "en": "Too many failed sign-ins; try again later"},
    "inbox": {"zh": "待办收件箱", "en": "Inbox"},
    "tab_open": {"zh": "待处理", "en": "Open"},
    "tab_claimed": {"zh": "已认领", "en": "Claimed"},
    "tab_done": {"zh": "已完成", "en": "Done"},
    "empty_inbox": {"zh": "暂无任务", "en": "No tasks here"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
    "col_title": {"zh": "事项", "en": "Task"},
    "col_kind": {"zh": "流程", "en": "Process"},
    "col_region": {"zh": "区域", "en": "Region"},
    "col_due": {"zh": "截止时间", "en": "Due"},
    "col_status": {"zh": "状态", "en": "Status"},
    "col_assignee": {"zh": "处理人", "en": "Assignee"},
    "escalated": {"zh": "已升级", "en": "Escalated"},
    "overdue": {"zh": "已逾期", "en": "Overdue"},
    "station_master": {"zh": "总站长", "en": "Station master"},
    "all_regions": {"zh": "全平台", "en": "All regions"},
    "language": {"zh": "English", "en": "中文"},
    "status_open": {"zh": "待处理", "en": "Open"},
    "status_claimed": {"zh": "已认领", "en": "Claimed"},
    "status_done": {"zh": "已完成", "en": "Done"},
    "status_cancelled": {"zh": "已取消", "en": "Cancelled"},
}


def t(key: str, lang: str) -> str:
    entry = TEXT.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry["zh"]
