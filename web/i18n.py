"""The console's words: Chinese first (the seeds' wording), English on request.

``t(key, lang, **values)`` formats with ``str.format``; an unknown key comes back as itself.
"""

from __future__ import annotations

from workflows.domain.permissions import PERMISSIONS_BY_KEY
from workflows.domain.regions import DEFAULT_REGIONS, PRODUCT_CATEGORIES
from workflows.domain.tiers import DEFAULT_LADDER

LANGS = ("zh", "en")

TEXT: dict[str, dict[str, str]] = {
    # shell
    "app_name": {"zh": "卡盟治理中心", "en": "Kameng governance"},
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "invalid_credentials": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "rate_limited": {"zh": "登录失败次数过多，请稍后再试", "en": "Too many failed sign-ins; try again later"},
    "language": {"zh": "English", "en": "中文"},
    "language_title": {"zh": "切换为英文界面", "en": "Switch to Chinese"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
    "station_master": {"zh": "总站长", "en": "Station master"},
    "all_regions": {"zh": "全平台", "en": "All regions"},
    "grants_label": {"zh": "临时权限", "en": "Temporary grants"},
    "remaining": {"zh": "剩余 {left}", "en": "{left} left"},
    "live": {"zh": "实时", "en": "Live"},
    "live_title": {"zh": "新任务和变化会自动出现，无需刷新", "en": "New tasks and changes appear without a reload"},
    "signin_hint": {"zh": "演示账号密码均为 kameng-demo", "en": "Every demo account's password is kameng-demo"},
    # navigation
    "nav_inbox": {"zh": "待办", "en": "Inbox"},
    "nav_reviews": {"zh": "晋升评审", "en": "Reviews"},
    "nav_start": {"zh": "发起流程", "en": "Start a process"},
    "nav_dashboard": {"zh": "数据看板", "en": "Dashboard"},
    "nav_docs": {"zh": "文档与提示", "en": "Docs & hints"},
    "nav_directory": {"zh": "管理员名录", "en": "Admin directory"},
    "nav_audit": {"zh": "审计日志", "en": "Audit trail"},
    "nav_risk": {"zh": "风控规则", "en": "Risk rules"},
    # refusals
    "refused_title": {"zh": "无权访问", "en": "Not available to you"},
    "refused_page": {
        "zh": "此页面需要「{permission}」权限，{tier}没有该权限。如确有需要，可在「发起流程」中申请临时权限。",
        "en": "This page needs the “{permission}” permission, which a {tier} does not hold. If you need it, request a temporary grant under “Start a process”.",
    },
    "refused_back": {"zh": "返回待办", "en": "Back to the inbox"},
    "not_found_page": {"zh": "没有这个页面", "en": "There is no such page"},
    "not_found_task": {"zh": "你的待办中没有这个任务（或它不在你的管辖范围内）", "en": "No such task in your inbox (or it is outside your scope)"},
    "not_found_case": {"zh": "没有这个案件（或它不在你的管辖范围内）", "en": "No such case (or it is outside your scope)"},
    "temporal_down": {"zh": "流程服务暂时无法连接，请稍后再试", "en": "The workflow service is unreachable; try again shortly"},
    # inbox
    "inbox": {"zh": "待办收件箱", "en": "Inbox"},
    "tab_mine": {"zh": "我的（已认领）", "en": "Mine"},
    "tab_queue": {"zh": "待认领", "en": "My queue"},
    "tab_done": {"zh": "已完成", "en": "Done"},
    "empty_inbox": {"zh": "暂无任务", "en": "No tasks here"},
    "filter_kind": {"zh": "流程", "en": "Process"},
    "filter_region": {"zh": "区域", "en": "Region"},
    "filter_due": {"zh": "时限", "en": "Due"},
    "filter_any": {"zh": "全部", "en": "All"},
    "due_soon": {"zh": "即将到期", "en": "Due soon"},
    "overdue": {"zh": "已逾期", "en": "Overdue"},
    "escalated": {"zh": "已升级", "en": "Escalated"},
    "on_time": {"zh": "未到期", "en": "On time"},
    "sort": {"zh": "排序", "en": "Sort"},
    "sort_due": {"zh": "按截止时间", "en": "By due time"},
    "sort_priority": {"zh": "按优先级", "en": "By priority"},
    "sort_newest": {"zh": "最新优先", "en": "Newest first"},
    "col_title": {"zh": "事项", "en": "Task"},
    "col_kind": {"zh": "流程", "en": "Process"},
    "col_region": {"zh": "区域", "en": "Region"},
    "col_due": {"zh": "截止时间", "en": "Due"},
    "col_status": {"zh": "状态", "en": "Status"},
    "col_assignee": {"zh": "处理人", "en": "Assignee"},
    "col_priority": {"zh": "优先级", "en": "Priority"},
    "priority_high": {"zh": "高", "en": "High"},
    "priority_medium": {"zh": "中", "en": "Medium"},
    "priority_low": {"zh": "低", "en": "Low"},
    "col_actions": {"zh": "操作", "en": "Actions"},
    "claim": {"zh": "认领", "en": "Claim"},
    "release": {"zh": "释放", "en": "Release"},
    "open_task": {"zh": "处理", "en": "Open"},
    "view": {"zh": "查看", "en": "View"},
    "bulk_claim": {"zh": "批量认领（{n}）", "en": "Claim selected ({n})"},
    "select_all": {"zh": "全选", "en": "Select all"},
    "claimed_ok": {"zh": "已认领 {n} 项", "en": "Claimed {n}"},
    "released_ok": {"zh": "已释放", "en": "Released"},
    "claim_failed": {"zh": "{title}：{message}", "en": "{title}: {message}"},
    "count_tasks": {"zh": "共 {n} 项", "en": "{n} tasks"},
    "status_open": {"zh": "待处理", "en": "Open"},
    "status_claimed": {"zh": "已认领", "en": "Claimed"},
    "status_done": {"zh": "已完成", "en": "Done"},
    "status_cancelled": {"zh": "已撤回", "en": "Withdrawn"},
    "tab_open": {"zh": "待处理", "en": "Open"},
    "tab_claimed": {"zh": "已认领", "en": "Claimed"},
    # task detail
    "task": {"zh": "任务", "en": "Task"},
    "evidence": {"zh": "证据与材料", "en": "Evidence"},
    "joined_findings": {"zh": "审核开启后追加的风险信号（{n} 条）", "en": "Findings that joined this review ({n})"},
    "decision": {"zh": "处理决定", "en": "Decision"},
    "choose_action": {"zh": "选择处理方式", "en": "Choose an action"},
    "submit": {"zh": "提交", "en": "Submit"},
    "submitting": {"zh": "提交中…", "en": "Submitting…"},
    "required": {"zh": "必填", "en": "required"},
    "optional": {"zh": "选填", "en": "optional"},
    "fix_fields": {"zh": "请修改标红的字段", "en": "Please fix the highlighted fields"},
    "result": {"zh": "处理结果", "en": "Result"},
    "result_done": {"zh": "已提交「{action}」。流程状态：{status}，当前步骤：{step}", "en": "“{action}” recorded. Process status: {status}; current step: {step}"},
    "refusal": {"zh": "未能完成：{message}", "en": "Not done: {message}"},
    "case_timeline": {"zh": "案件时间线", "en": "Case timeline"},
    "claim_first": {"zh": "认领后处理，他人将看到由你负责", "en": "Claim it so others see it is yours"},
    "claimed_by": {"zh": "已由 {who} 认领", "en": "Claimed by {who}"},
    "no_actions": {"zh": "你的权限不允许处理此任务；可查看证据与时间线", "en": "Your permissions do not allow acting on this task; you can read the evidence and the timeline"},
    "task_closed": {"zh": "此任务已结束：{action}（{who}）", "en": "This task is closed: {action} ({who})"},
    "escalation_reason": {"zh": "升级原因", "en": "Why escalated"},
    "step": {"zh": "步骤", "en": "Step"},
    "tier": {"zh": "级别", "en": "Tier"},
    "due": {"zh": "截止", "en": "Due"},
    "back_to_inbox": {"zh": "← 返回待办", "en": "← Back to the inbox"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    # case
    "case": {"zh": "案件", "en": "Case"},
    "print": {"zh": "打印", "en": "Print"},
    "process_status": {"zh": "流程状态", "en": "Status"},
    "current_step": {"zh": "当前步骤", "en": "Current step"},
    "started_by": {"zh": "发起人", "en": "Started by"},
    "open_tasks": {"zh": "进行中的任务", "en": "Open tasks"},
    "outcome": {"zh": "结果", "en": "Outcome"},
    "when": {"zh": "时间", "en": "When"},
    "who": {"zh": "人员", "en": "Who"},
    "what": {"zh": "事项", "en": "What"},
    "why": {"zh": "原因 / 说明", "en": "Why"},
    "source_workflow": {"zh": "流程", "en": "workflow"},
    "source_audit": {"zh": "审计", "en": "audit"},
    "no_events": {"zh": "暂无记录", "en": "Nothing recorded yet"},
    # start
    "start_title": {"zh": "发起流程", "en": "Start a process"},
    "start_intro": {"zh": "只列出你的权限允许发起的流程", "en": "Only the processes your permissions allow are listed"},
    "start_none": {"zh": "你的级别目前不能发起任何流程", "en": "Your tier cannot start any process at the moment"},
    "start_submit": {"zh": "提交申请", "en": "Submit"},
    "started_ok": {"zh": "已发起：{process}", "en": "Started: {process}"},
    "view_case": {"zh": "查看案件", "en": "View the case"},
    # reviews
    "reviews_title": {"zh": "晋升评审", "en": "Promotion reviews"},
    "reviews_intro": {"zh": "请独立评分：提交自己的评分之前看不到其他评审人的分数", "en": "Score independently: other reviewers' scores stay hidden until you have scored"},
    "reviews_empty": {"zh": "目前没有分配给你的晋升评审", "en": "No promotion reviews are assigned to you"},
    "panel_status": {"zh": "评审进度：{done}/{total} 位已评分", "en": "Panel: {done} of {total} reviewers have scored"},
    "scores_hidden": {"zh": "其他评审人的分数在你评分后可见", "en": "Other reviewers' scores appear once you have scored"},
    "your_score": {"zh": "你的评分", "en": "Your score"},
    "nominee": {"zh": "被提名人", "en": "Nominee"},
    "target_tier": {"zh": "目标级别", "en": "Target tier"},
    "pass_line": {"zh": "及格线 {score} 分，{quorum} 位评审通过即达法定人数", "en": "Pass mark {score}; {quorum} passing scores make the quorum"},
    # dashboards
    "dashboard_global": {"zh": "全平台数据看板（近 30 天）", "en": "Platform dashboard (last 30 days)"},
    "dashboard_region": {"zh": "区域数据看板（近 30 天）", "en": "Regional dashboard (last 30 days)"},
    "dashboard_personal": {"zh": "个人工作看板（近 30 天）", "en": "My work (last 30 days)"},
    "gmv": {"zh": "成交额（GMV）", "en": "GMV"},
    "orders": {"zh": "订单量", "en": "Orders"},
    "refunds": {"zh": "退款单", "en": "Refunds"},
    "disputes": {"zh": "纠纷", "en": "Disputes"},
    "complaint_rate": {"zh": "投诉率", "en": "Complaint rate"},
    "open_tasks_short": {"zh": "未结任务", "en": "Open tasks"},
    "sla_breaches": {"zh": "超时未办（SLA）", "en": "SLA breaches"},
    "open_risk": {"zh": "待处理风控", "en": "Open risk reviews"},
    "fund_flows": {"zh": "资金流水", "en": "Fund flows"},
    "no_fund_flows": {"zh": "近 30 天没有资金操作", "en": "No fund operations in the last 30 days"},
    "tasks_decided": {"zh": "已处理工单", "en": "Tickets handled"},
    "tasks_claimed_open": {"zh": "认领未结", "en": "Claimed, open"},
    "escalated_away": {"zh": "超时升级（本区域）", "en": "Escalated away (my regions)"},
    "on_time_rate": {"zh": "按时处理率", "en": "On-time rate"},
    "satisfaction": {"zh": "用户满意度（纠纷处理后未被申诉）", "en": "Satisfaction (disputes not appealed)"},
    "satisfaction_basis": {
        "zh": "近 30 天经你调解或裁决并已结案的纠纷 {settled} 件，买卖双方均未申诉 {unappealed} 件",
        "en": "{settled} disputes you mediated or ruled on settled in 30 days; neither party appealed {unappealed}",
    },
    "satisfaction_none": {"zh": "近 30 天暂无经你处理并已结案的纠纷", "en": "No dispute you handled has settled in the last 30 days"},
    "per_day": {"zh": "每日处理量（近 14 天）", "en": "Handled per day (last 14 days)"},
    "by_region": {"zh": "按区域", "en": "By region"},
    "chart_table": {"zh": "数据明细", "en": "Figures"},
    # intern docs
    "docs_title": {"zh": "实习管理员：运营文档与系统提示", "en": "Intern: operating docs and system hints"},
    "docs_duties": {"zh": "实习期职责", "en": "What an intern does"},
    "docs_duties_text": {
        "zh": "实习管理员处于培养阶段，权限受限但目标明确：仅能查看基础运营文档、参与用户简单问题分流（如引导用户自助解决）、在普通管理员指导下辅助完成低风险操作（如商品信息分类整理）。",
        "en": "Interns are in training: limited permissions, clear goals — read the operating docs, triage simple user questions (guide users to self-service), and assist with low-risk work (checking and classifying product info) under a normal admin.",
    },
    "docs_tiers": {"zh": "管理员级别与权限", "en": "Tiers and permissions"},
    "docs_my_permissions": {"zh": "我当前拥有的权限", "en": "What I hold now"},
    "docs_hints": {"zh": "系统提示（重复下单等）", "en": "System hints (duplicate orders and the like)"},
    "docs_no_hints": {"zh": "你的区域暂无系统提示", "en": "No hints in your regions right now"},
    "docs_promotion": {"zh": "晋升通道：实习期内协助的任务量、准确率与评审分数将作为晋升普通管理员的依据。", "en": "Promotion: tasks assisted, accuracy and review scores during the internship decide promotion to normal admin."},
    # directory
    "directory_title": {"zh": "管理员名录", "en": "Admin directory"},
    "tier_config": {"zh": "级别配置（弹性级别设置）", "en": "Tier configuration"},
    "headcount": {"zh": "人数", "en": "Head-count"},
    "cap": {"zh": "上限", "en": "Cap"},
    "rank": {"zh": "等级", "en": "Rank"},
    "display_name": {"zh": "姓名", "en": "Name"},
    "regions": {"zh": "区域", "en": "Regions"},
    "account_status": {"zh": "账号状态", "en": "Status"},
    "active_grants": {"zh": "生效中的临时权限", "en": "Active grants"},
    "nominate_super": {"zh": "提名为超级管理员", "en": "Nominate to super"},
    "nominate_normal": {"zh": "提名转正", "en": "Nominate to normal"},
    "appoint_note": {
        "zh": "任免区域管理员须走流程：任命或免职由一位超级管理员提议、另一位超级管理员审批后生效；区域→超级通过「管理员晋升」流程提名，由总站长确认。",
        "en": "Appointing and removing regional admins goes through processes: one super proposes, another approves, then the change takes effect; regional → super is a promotion nomination the station master confirms.",
    },
    "appoint_regional": {"zh": "任命为区域管理员", "en": "Appoint regional"},
    "remove_regional": {"zh": "免去区域管理员", "en": "Remove as regional"},
    "pending_appointments": {"zh": "待审批的任免", "en": "Pending appointments"},
    "edit_cap": {"zh": "修改上限", "en": "Change the cap"},
    "save": {"zh": "保存", "en": "Save"},
    "cap_saved": {"zh": "已保存：{tier} 上限 {cap}", "en": "Saved: {tier} capped at {cap}"},
    "no_cap": {"zh": "不限", "en": "none"},
    "tier_rules": {
        "zh": "超级管理员上限须为 1–3 人，且不得低于现有人数；每次修改记入审计日志。",
        "en": "The super tier holds 1 to 3 admins, and no cap may fall below the current head-count; every change is audited.",
    },
    "filter_tier": {"zh": "级别", "en": "Tier"},
    # audit
    "audit_title": {"zh": "审计日志", "en": "Audit trail"},
    "audit_scope_region": {"zh": "仅显示你所辖区域的事件", "en": "Only events in your regions"},
    "chain_ok": {"zh": "审计链校验通过：{n} 条事件，哈希链完整", "en": "Chain verified: {n} events, every link holds"},
    "chain_bad": {"zh": "审计链校验失败：第 {seq} 条 — {problem}", "en": "Chain broken at event {seq}: {problem}"},
    "chain_checking": {"zh": "正在校验审计链…", "en": "Verifying the chain…"},
    "chain_verify": {"zh": "重新校验", "en": "Verify again"},
    "chain_ok_sealed": {"zh": "审计链校验通过：{n} 条事件，哈希链完整，{s} 个封存签名有效", "en": "Chain verified: {n} events, every link holds, {s} seals valid"},
    "chain_bad_seal": {"zh": "审计链校验失败：封存 #{seal} — {problem}", "en": "Chain check failed at seal #{seal}: {problem}"},
    "seal_latest": {"zh": "最近封存 #{id}：第 {seq} 条（共 {events} 条）· {at} · 密钥 {kid}", "en": "Latest seal #{id}: event {seq} ({events} events) · {at} · key {kid}"},
    "seal_none": {"zh": "审计链尚未封存", "en": "The chain has not been sealed yet"},
    "forensics": {"zh": "取证查询", "en": "Forensic queries"},
    "who_read": {"zh": "谁查看了买家敏感数据", "en": "Who read a buyer's sensitive data"},
    "actor_day": {"zh": "管理员某日的全部操作", "en": "Everything an admin did on a day"},
    "f_buyer": {"zh": "买家编号", "en": "Buyer code"},
    "f_days": {"zh": "最近天数", "en": "Last days"},
    "f_admin": {"zh": "管理员", "en": "Admin"},
    "f_day": {"zh": "日期（UTC）", "en": "Day (UTC)"},
    "query": {"zh": "查询", "en": "Query"},
    "showing_who_read": {"zh": "买家 {buyer} 最近 {days} 天的敏感数据查看记录（新→旧）", "en": "Sensitive reads of buyer {buyer} in the last {days} days (newest first)"},
    "showing_actor": {"zh": "{actor} 在 {day}（UTC）的全部操作（旧→新）", "en": "Everything {actor} did on {day} (UTC), oldest first"},
    "back_to_search": {"zh": "返回搜索", "en": "Back to search"},
    "search": {"zh": "查询", "en": "Search"},
    "reset": {"zh": "重置", "en": "Reset"},
    "more": {"zh": "加载更多", "en": "Load more"},
    "f_actor": {"zh": "操作人", "en": "Actor"},
    "f_action": {"zh": "动作", "en": "Action"},
    "f_target": {"zh": "对象", "en": "Target"},
    "f_process": {"zh": "流程编号", "en": "Process id"},
    "f_outcome": {"zh": "结果", "en": "Outcome"},
    "f_since": {"zh": "起始日期", "en": "From"},
    "f_until": {"zh": "截止日期", "en": "Until"},
    "col_seq": {"zh": "序号", "en": "#"},
    "col_at": {"zh": "时间", "en": "Time"},
    "col_source": {"zh": "来源地址", "en": "Source"},
    "no_audit": {"zh": "没有符合条件的事件", "en": "No matching events"},
}

STATUS_TEXT: dict[str, tuple[str, str]] = {
    "running": ("进行中", "Running"),
    "active": ("生效中", "Active"),
    "approved": ("已通过", "Approved"),
    "rejected": ("已驳回", "Rejected"),
    "lapsed": ("逾期失效", "Lapsed"),
    "expired": ("已到期", "Expired"),
    "revoked": ("已撤销", "Revoked"),
    "executed": ("已执行", "Executed"),
    "vetoed": ("已否决", "Vetoed"),
    "abandoned": ("已关闭（未补材料）", "Abandoned"),
    "listed": ("已上架", "Listed"),
    "applied": ("已生效", "Applied"),
    "banned": ("已封禁", "Banned"),
    "lifted": ("已解封", "Lifted"),
    "dismissed": ("已排除", "Dismissed"),
    "flagged": ("已标记", "Flagged"),
    "intercepted": ("已拦截", "Intercepted"),
    "ban_requested": ("已申请封禁", "Ban requested"),
    "assessment": ("考核期", "Assessment"),
    "promoted": ("已晋升", "Promoted"),
    "declined": ("不予晋升", "Declined"),
    "not_passed": ("评审未通过", "Not passed"),
    "cap_reached": ("名额已满", "Cap reached"),
    "appointed": ("已任命", "Appointed"),
    "removed": ("已免职", "Removed"),
    "resolved": ("已调解", "Resolved"),
    "ruled": ("已裁决", "Ruled"),
    "appealed": ("终审完成", "Decided on appeal"),
    "failed": ("失败", "Failed"),
    "finished": ("已结束", "Finished"),
    "started": ("已发起", "Started"),
    "open": ("待处理", "Open"),
    "claimed": ("已认领", "Claimed"),
    "done": ("已完成", "Done"),
    "cancelled": ("已撤回", "Withdrawn"),
    "allowed": ("允许", "Allowed"),
    "accepted": ("已受理", "Accepted"),
    "high_risk": ("高风险", "High risk"),
    "normal_risk": ("风险正常", "Normal risk"),
    "waiting": ("等待中", "Waiting"),
    "received": ("已收到", "Received"),
    "reminded": ("已提醒", "Reminded"),
    "pending": ("待定", "Pending"),
    "gathered": ("已采集", "Gathered"),
    "assessed": ("已考核", "Assessed"),
    "passed": ("评审通过", "Passed"),
    "refused": ("已拒绝", "Refused"),
    "no_response": ("未回应", "No response"),
    "responded": ("已回应", "Responded"),
    "released": ("已释放", "Released"),
    "escalated": ("已升级", "Escalated"),
    "denied": ("拒绝", "Denied"),
}

STEP_TEXT: dict[str, tuple[str, str]] = {
    "started": ("已发起", "Started"),
    "finished": ("已结束", "Finished"),
    "verify": ("资质审核", "Verification"),
    "regional_approval": ("区域复核", "Regional approval"),
    "documents": ("等待补充材料", "Waiting for documents"),
    "approve": ("审批", "Approval"),
    "approve_extension": ("延期审批", "Extension approval"),
    "active": ("生效中", "Active"),
    "review": ("审核 / 评审", "Review"),
    "confirm": ("确认", "Confirmation"),
    "assessment": ("考核期", "Assessment"),
    "merchant_response": ("等待商家回应", "Merchant response"),
    "mediate": ("调解", "Mediation"),
    "rule": ("裁决", "Ruling"),
    "appeal_window": ("申诉期", "Appeal window"),
    "appeal": ("申诉终审", "Appeal"),
    "refund_review": ("退款复核", "Refund review"),
    "refund_refused": ("退款复核未通过", "Refund refused"),
    "request": ("封禁申请", "Ban request"),
}

EVENT_TEXT: dict[str, tuple[str, str]] = {
    "started": ("发起流程", "Process started"),
    "task.opened": ("生成待办任务", "Task opened"),
    "task.claimed": ("认领任务", "Task claimed"),
    "task.released": ("释放任务", "Task released"),
    "task.reminded": ("到期提醒", "Reminder sent"),
    "task.escalated": ("超时升级", "Escalated (overdue)"),
    "escalated": ("超时升级", "Escalated (overdue)"),
    "lapsed": ("逾期失效", "Lapsed"),
    "withdrawn": ("任务撤回", "Withdrawn"),
    "checked": ("自动检查", "Automatic checks"),
    "documents_requested": ("要求补充材料", "Documents requested"),
    "documents_reminder": ("补材料提醒", "Documents reminder"),
    "documents_submitted": ("商家补交材料", "Documents submitted"),
    "activated": ("权限生效", "Grant active"),
    "extended": ("权限延期", "Grant extended"),
    "veto": ("一票否决", "Veto"),
    "veto_too_late": ("否决过晚（已结束）", "Veto too late"),
    "assessed": ("考核期结束", "Assessment ended"),
    "metrics": ("采集考核指标", "Metrics gathered"),
    "reviewed": ("评审结束", "Reviews decided"),
    "tier_changed": ("级别变更", "Tier changed"),
    "merchant_reminded": ("提醒商家回应", "Merchant reminded"),
    "merchant_silent": ("商家未回应", "Merchant did not respond"),
    "merchant_responded": ("商家已回应", "Merchant responded"),
    "refund_review": ("退款进入双人复核", "Refund to dual review"),
    "refund_refused": ("退款复核未通过，退回裁决级别", "Refund refused, back to its tier"),
    "no_refund": ("记录不予退款", "No refund, with the reason"),
    "ceiling_revoked": ("超出授权上限，已撤销", "Revoked: above the delegation ceiling"),
    "lockout": ("登录失败过多，已锁定", "Locked after failed sign-ins"),
    "requested": ("申请封禁", "Ban requested"),
    "direct": ("直接封禁", "Banned directly"),
    "applied": ("改价生效", "Price applied"),
    "auth.login": ("登录", "Signed in"),
    "auth.logout": ("退出登录", "Signed out"),
    "console.page": ("访问控制台页面", "Console page"),
    "intake.merchant-applications": ("平台提交：商家入驻申请", "Intake: merchant application"),
    "intake.disputes": ("平台提交：纠纷", "Intake: dispute"),
    "intake.risk-signals": ("平台提交：风险信号", "Intake: risk signal"),
    "users.view": ("查看用户信息", "Viewed a user"),
    "users.view_sensitive": ("查看用户敏感数据", "Viewed sensitive user data"),
}

FORM_TEXT: dict[str, tuple[str, str]] = {
    "score": ("异常分（相对自身基线）", "Score (against its own baseline)"),
    "amount": ("金额", "Amount"),
    "refund_amount": ("退款金额", "Refund"),
    "price": ("价格", "Price"),
    "new_price": ("新价格", "New price"),
    "documents": ("需补充的材料", "Documents wanted"),
    "notes": ("评语", "Notes"),
    "reviewers": ("评审人", "Reviewers"),
    "account": ("账户", "Account"),
    "fee_rate_bps": ("新费率", "New fee rate"),
}
"""Labels that differ on a form (units, instructions) from the same key shown as evidence."""

FIELD_TEXT: dict[str, tuple[str, str]] = {
    # forms
    "reason": ("理由", "Reason"),
    "justification": ("申请理由", "Justification"),
    "reasons": ("提名理由", "Reasons"),
    "notes": ("评语", "Notes"),
    "score": ("异常分（相对自身基线）", "Score (against its own baseline)"),
    "permission": ("申请的权限", "Permission"),
    "scope": ("范围", "Scope"),
    "regions": ("区域", "Regions"),
    "region": ("区域", "Region"),
    "duration": ("时长", "Duration"),
    "starts_at": ("生效时间", "Starts at"),
    "nominee": ("被提名人", "Nominee"),
    "target_tier": ("目标级别", "Target tier"),
    "reviewers": ("评审人", "Reviewers"),
    "admin": ("管理员", "Admin"),
    "change": ("任免", "Change"),
    "from_tier": ("现级别", "Current tier"),
    "to_tier": ("任免后级别", "New tier"),
    "current_regions": ("现管辖区域", "Current regions"),
    "proposal": ("提议理由", "Why proposed"),
    "display_name": ("姓名", "Name"),
    "operation": ("操作类型", "Operation"),
    "cap": ("人数上限（留空为不限）", "Head-count cap (empty: none)"),
    "account": ("账户", "Account"),
    "amount": ("金额", "Amount"),
    "fee_rate_bps": ("新费率", "New fee rate"),
    "buyer": ("买家编号", "Buyer code"),
    "documents": ("资质材料", "Documents"),
    "refund_amount": ("退款金额", "Refund"),
    "merchant": ("商家编码", "Merchant code"),
    "sku": ("商品编号", "SKU"),
    "name": ("名称", "Name"),
    "category": ("类目", "Category"),
    "price": ("价格", "Price"),
    "new_price": ("新价格", "New price"),
    # evidence
    "identity_number": ("证件号", "Identity number"),
    "contact_phone": ("联系电话", "Contact phone"),
    "missing": ("缺少的材料", "Missing documents"),
    "duplicates": ("证件号重复的商家", "Merchants with the same identity"),
    "risk_score": ("风险分", "Risk score"),
    "high_risk": ("高风险", "High risk"),
    "explanation": ("风险说明（可核查）", "Explanation"),
    "verified_by": ("初审人", "Verified by"),
    "verify_comment": ("初审意见", "Verifier's comment"),
    "requester": ("申请人", "Requester"),
    "requester_tier": ("申请人级别", "Requester's tier"),
    "grant_id": ("授权编号", "Grant id"),
    "ends_at": ("到期时间", "Ends at"),
    "extra": ("延长时长", "Extension"),
    "account_name": ("账户名称", "Account name"),
    "current_fee_rate": ("当前费率", "Current fee rate"),
    "maker": ("发起人", "Maker"),
    "maker_tier": ("发起人级别", "Maker's tier"),
    "dispute_code": ("纠纷编号", "Dispute"),
    "approved_by": ("已复核人", "Approved by"),
    "approvals_needed": ("需复核人数", "Approvals needed"),
    "dispute": ("纠纷编号", "Dispute"),
    "order": ("订单", "Order"),
    "order_amount": ("订单金额", "Order amount"),
    "product": ("商品", "Product"),
    "buyer_region": ("买家区域", "Buyer's region"),
    "merchant_name": ("商家名称", "Merchant name"),
    "merchant_region": ("商家区域", "Merchant's region"),
    "cross_region": ("跨区域", "Cross-region"),
    "amount_claimed": ("索赔金额", "Amount claimed"),
    "refund_threshold": ("退款复核阈值", "Dual-review threshold"),
    "merchant_response": ("商家回应", "Merchant's response"),
    "statement": ("陈述", "Statement"),
    "escalation": ("升级原因", "Why escalated"),
    "decision": ("原决定", "Decision under appeal"),
    "appeal": ("申诉", "Appeal"),
    "appellant": ("申诉方", "Appellant"),
    "signal": ("风险信号", "Signal"),
    "subject_kind": ("对象类型", "Subject kind"),
    "subject": ("对象", "Subject"),
    "rows": ("证据明细", "Evidence rows"),
    "hint_zh": ("系统提示", "System hint"),
    "nickname": ("昵称", "Nickname"),
    "flagged_by": ("标记人", "Flagged by"),
    "source_process": ("来源流程", "Source process"),
    "nominee_tier": ("当前级别", "Current tier"),
    "metrics": ("考核指标", "Assessment metrics"),
    "pass_score": ("及格分", "Pass mark"),
    "scores": ("评分", "Scores"),
    "passing": ("通过人数", "Passing"),
    "quorum": ("法定人数", "Quorum"),
    "seats": ("超级管理员名额", "Super seats"),
    "price_yuan": ("价格（元）", "Price (yuan)"),
    "band_yuan": ("预设价格区间（元）", "Price band (yuan)"),
    "high_value": ("高价值商品", "High value"),
    "route": ("审批路由说明", "Why this approver"),
    "proposed_by": ("提交人", "Proposed by"),
    "old_price_yuan": ("原价（元）", "Old price (yuan)"),
    "new_price_yuan": ("新价（元）", "New price (yuan)"),
    "change_pct": ("调价幅度（%）", "Change (%)"),
    "banned_by": ("封禁审批人", "Banned by"),
    "contact": ("联系方式", "Contact"),
    "tasks_decided": ("独立处理任务数", "Tasks decided"),
    "tasks_assisted": ("协助完成任务数", "Tasks assisted"),
    "audit_events": ("留痕操作数", "Audited actions"),
    "decisions_stood": ("决定成立数", "Decisions that stood"),
    "accuracy": ("准确率", "Accuracy"),
    "prior_reviews": ("以往评审次数", "Earlier reviews"),
    "prior_mean_score": ("以往平均分", "Earlier mean score"),
    "since": ("考核起", "From"),
    "until": ("考核止", "Until"),
    "status": ("状态", "Status"),
    "decided_by": ("决定人", "Decided by"),
    "merchant_status": ("商家状态", "Merchant status"),
    "ledger_entry": ("账本记录", "Ledger entry"),
    "fee_rate": ("费率", "Fee rate"),
    "refund_awarded": ("判定退款", "Refund awarded"),
    "refund": ("退款", "Refund"),
    "kind": ("类型", "Kind"),
    "ref": ("文件", "File"),
    "filed_at": ("提交时间", "Filed at"),
    "by": ("处理人", "By"),
    "confirmed_by": ("确认人", "Confirmed by"),
    "tier": ("级别", "Tier"),
    "old_price": ("原价", "Old price"),
    "at": ("时间", "At"),
    "entry_id": ("账本记录", "Ledger entry"),
    "operation_id": ("操作编号", "Operation id"),
    "awarded": ("判定金额", "Awarded"),
}

CODE_TEXT: dict[str, tuple[str, str]] = {
    "cap_out_of_range": ("上限超出允许范围", "the cap is outside what the rules allow"),
    "cap_below_headcount": ("上限低于现有人数", "the cap is below the current head-count"),
    "self_appointment": ("不能提议变更自己的级别", "no one proposes a change of their own tier"),
    "regions_required": ("请选择所辖区域", "name the regions"),
    "wrong_tier": ("对象当前级别不适用此操作", "the admin's current tier does not fit this change"),
    "no_permission": ("你的级别没有这项权限", "your tier does not hold this permission"),
    "out_of_region": ("对象不在你的管辖区域内", "the subject is outside your regions"),
    "not_own": ("只能处理本人经手的记录", "only records you handled are in scope"),
    "self_approval": ("不能审批自己提交的申请（职责分离）", "no one approves their own request"),
    "conflict_of_interest": ("你是本事项的当事人，不能处理", "you are a party to this case"),
    "not_independent": ("你已在本案的前序环节中作出决定，不能再处理此环节（职责分离）", "you decided an earlier step of this case and may not decide this one"),
    "exceeds_approver": ("申请的权限或范围超出你本人持有的权限，不能授予", "the request exceeds what you hold yourself"),
    "not_delegable": ("该权限不能由你临时授予", "this permission is not yours to delegate"),
    "process_ended": ("该流程已结束，不能再操作", "this process has ended"),
    "tier_too_low": ("该任务已在更高级别，你的级别不能处理", "the task is with a higher tier"),
    "not_outranking": ("你的级别不高于对象的级别", "you do not outrank the subject"),
    "funds_need_super": ("资金类事项须由超级管理员处理", "fund matters need a super admin"),
    "outside_band": ("价格超出预设区间", "price outside the band"),
    "high_value": ("高价值商品需区域管理员审批", "high-value goods need a regional admin"),
    "claimed_by_other": ("已被其他管理员认领", "someone else claimed it first"),
    "already_decided": ("该任务已经处理过了", "the task has already been decided"),
    "action_not_available": ("当前步骤不提供这个操作", "this action is not available at this step"),
    "documents_incomplete": ("材料不齐，请要求补充或驳回", "documents are missing: request them or reject"),
    "invalid_body": ("填写内容不符合要求", "the form content is not valid"),
    "not_reviewer": ("只有被指定的评审人可以评分", "only the named reviewer may score"),
    "not_station_master": ("只有总站长可以确认晋升为超级管理员", "only the station master confirms promotions to super"),
    "not_assignee": ("只有认领人（或超级管理员）可以释放", "only the assignee (or a super) may release it"),
    "no_such_task": ("没有这个任务", "no such task"),
    "not_found": ("没有找到，或不在你的管辖范围内", "not found, or outside your scope"),
    "bad_duration": ("时长须大于零且不超过 90 天", "a duration between nothing and 90 days"),
    "unknown_permission": ("没有这个权限", "no such permission"),
    "scope_too_wide": ("全局资金权限不授予超级管理员以下级别", "global fund permissions stay with supers"),
    "region_required": ("需要指定区域", "a region is required"),
    "self_nomination": ("不能提名自己", "no one nominates themselves"),
    "reviewers_required": ("请选择 3 位不同的评审人", "name 3 different reviewers"),
    "station_master_confirms": ("总站长负责确认，请由其他超级管理员提名", "the station master confirms; another super nominates"),
    "amount_required": ("请填写大于零的金额", "a positive amount is required"),
    "bad_fee_rate": ("请填写 0–3000 基点的新费率", "name the new rate, 0–3000 basis points"),
    "refund_from_dispute": ("退款由纠纷裁决发起，不能直接提交", "refunds come from disputes"),
    "already_started": ("该流程已经发起过了", "this process was already started"),
    "temporal_unavailable": ("流程服务暂时无法连接", "the workflow service is unreachable"),
    "refund_too_high": ("退款金额超过订单金额", "the refund exceeds the order"),
    "refund_not_smaller": ("重新提出的退款须少于被驳回的金额，或记录不予退款", "propose less than the refund refused, or record why none is paid"),
    "starter_required": ("该流程须由管理员发起", "this process is started by an admin"),
    "unknown_region": ("没有这个区域", "no such region"),
    "unknown_category": ("没有这个类目", "no such category"),
    "grant_expired": ("临时权限已过期", "the grant has expired"),
    "inactive": ("账号已停用", "the account is not active"),
    "too_long": ("时长超过上限", "too long"),
}


def t(key: str, lang: str, **values: object) -> str:
    entry = TEXT.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["zh"]
    return text.format(**values) if values else text


def pick(pair: tuple[str, str] | None, lang: str, fallback: str) -> str:
    if pair is None:
        return fallback
    return pair[0] if lang == "zh" else pair[1]


def status_text(status: str | None, lang: str) -> str:
    return pick(STATUS_TEXT.get(status or ""), lang, status or "—")


def step_text(step: str | None, lang: str) -> str:
    return pick(STEP_TEXT.get(step or ""), lang, step or "—")


def field_text(name: str, lang: str) -> str:
    return pick(FIELD_TEXT.get(name), lang, name)


def form_text(name: str, lang: str) -> str:
    return pick(FORM_TEXT.get(name) or FIELD_TEXT.get(name), lang, name)


VALUE_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "signal": {
        "duplicate_order": ("重复下单", "Duplicate order"), "brushing": ("疑似刷单", "Order brushing"),
        "unusual_refund": ("异常退款/结算", "Unusual refund or settlement"), "admin_misuse": ("管理员异常操作", "Admin misuse"),
    },
    "subject_kind": {"buyer": ("买家", "Buyer"), "merchant": ("商家", "Merchant"), "admin": ("管理员", "Admin"), "order": ("订单", "Order")},
    "operation": {
        "withdrawal": ("资金池提现", "Fund-pool withdrawal"), "fee_rate_change": ("费率调整", "Fee-rate change"),
        "merchant_settlement": ("商家结算", "Merchant settlement"), "refund": ("纠纷退款", "Dispute refund"),
    },
    "scope": {"own": ("本人经手", "Own records"), "region": ("本区域", "Region"), "global": ("全平台", "Global")},
    "appellant": {"buyer": ("买家", "Buyer"), "merchant": ("商家", "Merchant")},
    "change": {"appoint": ("任命为区域管理员", "Appoint as regional admin"), "remove": ("免去区域管理员（降为普通管理员）", "Remove as regional admin (back to normal)")},
}


def value_text(key: str, value: str, lang: str) -> str | None:
    """Words for a coded value shown as evidence (a signal, an operation, a scope), if known."""
    if key == "permission":
        return permission_text(value, lang) if value in PERMISSIONS_BY_KEY else None
    if key in ("status", "merchant_status", "outcome", "appeal"):
        pair = STATUS_TEXT.get(value)
        return pick(pair, lang, value) if pair else None
    pair = VALUE_TEXT.get(key, {}).get(value)
    return pick(pair, lang, value) if pair else None


def code_text(code: str, lang: str) -> str:
    return pick(CODE_TEXT.get(code), lang, code)


def event_text(action: str, lang: str) -> str:
    """An audit action (``merchant-onboarding.checked``) or a timeline action, in words."""
    if action in EVENT_TEXT:
        return pick(EVENT_TEXT[action], lang, action)
    kind, _, verb = action.partition(".")
    if verb:
        from workflows.registry import BY_KIND

        spec = BY_KIND.get(kind)
        label = None
        if spec is not None:
            found = spec.action(verb)
            if found is not None:
                label = found.label_zh if lang == "zh" else found.label_en
        label = label or pick(EVENT_TEXT.get(verb) or STATUS_TEXT.get(verb), lang, verb)
        if spec is not None:
            return f"{spec.title_zh if lang == 'zh' else spec.title_en} · {label}"
        return label
    for kind_spec in _registry():
        found = kind_spec.action(action)
        if found is not None:
            return found.label_zh if lang == "zh" else found.label_en
    return pick(STATUS_TEXT.get(action), lang, action)


def _registry():
    from workflows.registry import REGISTRY

    return REGISTRY


def kind_text(kind: str, lang: str) -> str:
    from workflows.registry import BY_KIND

    spec = BY_KIND.get(kind)
    if spec is None:
        return kind
    return spec.title_zh if lang == "zh" else spec.title_en


def action_text(kind: str, action: str, lang: str) -> str:
    from workflows.registry import BY_KIND

    spec = BY_KIND.get(kind)
    found = spec.action(action) if spec is not None else None
    if found is None:
        return pick(EVENT_TEXT.get(action) or STATUS_TEXT.get(action), lang, action)
    return found.label_zh if lang == "zh" else found.label_en


def tier_text(tier: str | None, lang: str, *, badge: bool = False) -> str:
    if not tier or tier not in DEFAULT_LADDER:
        return tier or "—"
    info = DEFAULT_LADDER[tier]
    if lang == "zh":
        return info.badge_zh if badge and info.badge_zh else info.name_zh
    return info.name_en


def permission_text(key: str, lang: str) -> str:
    perm = PERMISSIONS_BY_KEY.get(key)
    if perm is None:
        return key
    return perm.name_zh if lang == "zh" else perm.name_en


REGION_NAMES = {r.key: (r.name_zh, r.name_en) for r in DEFAULT_REGIONS}


def region_text(key: str | None, lang: str) -> str:
    if key is None:
        return t("all_regions", lang)
    return pick(REGION_NAMES.get(key), lang, key)


def category_text(key: str, lang: str) -> str:
    return pick(PRODUCT_CATEGORIES.get(key), lang, key)


def duration_text(seconds: float, lang: str) -> str:
    """A remaining time: 2天3小时 / 2 d 3 h; under an hour in minutes."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if lang == "zh":
        if days:
            return f"{days}天{hours}小时"
        if hours:
            return f"{hours}小时{minutes}分"
        return f"{minutes}分钟"
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
