//! The dashboard's two languages. Every label is in [`LABELS`], one row per key with its
//! Chinese and English text, so a label cannot exist in one language only (a unit test checks
//! the table). The language is chosen by `?lang=zh|en` (then remembered in a cookie), else the
//! cookie, else the browser's `Accept-Language`, else Chinese.

use axum::http::{HeaderMap, header};

/// A dashboard language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "fv_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The label `key` in this language; the key itself when the table has no such row (a
    /// unit test keeps every key the pages use in the table).
    pub fn t(self, key: &str) -> &'static str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "a dashboard label is missing from the table");
                "?"
            }
        }
    }

    /// The language of a request: `query` (the `lang` parameter) first, then the cookie,
    /// then `Accept-Language`. The second value is true when it came from the query and should
    /// be remembered.
    pub fn of_request(query: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(lang) = query.and_then(Lang::parse) {
            return (lang, true);
        }
        if let Some(lang) = super::auth::cookie(headers, LANG_COOKIE).and_then(|c| Lang::parse(&c))
        {
            return (lang, false);
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        (from_accept_language(accept), false)
    }
}

/// The preferred of Chinese and English in an `Accept-Language` value (by q-value, then
/// order); Chinese when it names neither.
pub fn from_accept_language(value: &str) -> Lang {
    let mut best: Option<(f32, Lang)> = None;
    for part in value.split(',') {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag.starts_with("zh") {
            Lang::Zh
        } else if tag.starts_with("en") {
            Lang::En
        } else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::Zh, |(_, lang)| lang)
}

/// Every label: key, Chinese, English.
pub const LABELS: &[(&str, &str, &str)] = &[
    ("app", "入户走访管理", "Field visit administration"),
    ("nav.devices", "设备同步", "Device sync health"),
    ("nav.coverage", "走访覆盖", "Coverage by village"),
    ("nav.unvisited", "未走访农户", "Unvisited households"),
    ("nav.flags", "异常标记", "Flagged visits"),
    ("nav.rejected", "被拒操作", "Rejected operations"),
    ("login.title", "管理员登录", "Administrator login"),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Log in"),
    (
        "login.failed",
        "用户名或密码错误，或账户已被暂时锁定。",
        "Wrong username or password, or the account is locked for a while.",
    ),
    ("logout", "退出登录", "Log out"),
    ("role.sync-admin", "同步管理员", "Sync admin"),
    (
        "role.supervisor",
        "督查员（只读）",
        "Supervisor (read-only)",
    ),
    ("lang.switch", "English", "中文"),
    ("days", "天数", "Days"),
    ("show", "显示", "Show"),
    ("period", "统计期", "Period"),
    ("rows", "行数", "Rows"),
    ("none", "无", "None"),
    ("download", "下载", "Download"),
    ("devices.revoke", "吊销", "Revoke"),
    ("devices.reason", "吊销原因", "Reason for revoking"),
    ("devices.revoked", "设备已吊销", "The device was revoked"),
    ("state.active", "正常", "active"),
    ("state.retiring", "退役中", "retiring"),
    ("state.revoked", "已吊销", "revoked"),
    ("flag.stuck", "卡住", "stuck"),
    ("flag.silent", "失联", "silent"),
    ("level.village", "村", "village"),
    ("level.cadre", "干部", "cadre"),
    ("error.title", "出错了", "Something is wrong"),
    (
        "error.csrf",
        "表单已过期或来源不明（CSRF 校验失败）。请返回页面刷新后重试。",
        "The form is stale or did not come from this dashboard (CSRF check failed). Go back, reload the page and try again.",
    ),
    (
        "error.forbidden",
        "您的角色无权执行此操作：督查员只能查看。",
        "Your role may not do this: supervisors can only look.",
    ),
    (
        "error.not_found",
        "没有这个设备。",
        "There is no such device.",
    ),
    (
        "error.reason",
        "请填写吊销原因。",
        "Give a reason for revoking.",
    ),
    (
        "error.days",
        "天数须为 1 到 3660 的整数。",
        "Days must be a whole number from 1 to 3660.",
    ),
    ("back", "返回", "Back"),
    ("col.device", "设备", "Device"),
    ("col.cadre", "干部", "Cadre"),
    ("col.cadre_name", "干部姓名", "Cadre name"),
    ("col.state", "状态", "State"),
    ("col.app_version", "应用版本", "App version"),
    ("col.last_sync", "最近同步", "Last sync"),
    ("col.pending", "待上传", "Pending"),
    ("col.rejected", "被拒", "Rejected"),
    ("col.skew", "时钟偏差（秒）", "Clock skew (s)"),
    ("col.flags", "标记", "Flags"),
    ("col.action", "操作", "Action"),
    ("col.level", "层级", "Level"),
    ("col.id", "编号", "Id"),
    ("col.name", "名称", "Name"),
    ("col.households", "户数", "Households"),
    ("col.visited", "已走访", "Visited"),
    ("col.share", "覆盖率", "Share"),
    ("col.household", "农户", "Household"),
    ("col.code", "代码", "Code"),
    ("col.village", "村编码", "Village code"),
    ("col.village_name", "村名", "Village"),
    ("col.last_visit", "最近走访", "Last visit"),
    ("col.days_since", "距今天数", "Days since"),
    ("col.cadres", "责任干部", "Responsible cadres"),
    ("col.visit", "走访", "Visit"),
    ("col.recorded_at_cst", "记录时间", "Recorded at"),
    ("col.flag", "标记", "Flag"),
    ("col.detail", "详情", "Detail"),
    ("col.seq", "序号", "Seq"),
    ("col.op", "操作编号", "Operation"),
    ("col.reason", "原因", "Reason"),
    ("col.item", "项目", "Item"),
    ("col.answer", "情况", "Answer"),
    ("col.note", "说明", "Note"),
    ("col.category", "类别", "Category"),
    ("col.content", "内容", "Content"),
    ("col.cost", "金额（元）", "Cost (yuan)"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    (
        "error.no_visit",
        "没有这次走访。",
        "There is no such visit.",
    ),
    ("visit.title", "走访", "Visit"),
    ("visit.about", "走访信息", "About the visit"),
    ("visit.head", "户主", "Head of household"),
    ("visit.kind", "走访类型", "Kind of visit"),
    ("visit.received", "服务器接收时间", "Received by the server"),
    (
        "visit.identified",
        "农户识别方式",
        "Household identified by",
    ),
    ("visit.scanned", "扫描门牌", "door plate scanned"),
    ("visit.manual", "手工输入代码", "code typed by hand"),
    ("visit.location", "定位", "Location"),
    ("visit.distance", "距登记住址", "Distance from the dwelling"),
    ("visit.follow_up", "跟进期限", "Follow-up due"),
    ("visit.acknowledged", "农户已确认", "Household acknowledged"),
    ("visit.amendments", "修改次数", "Amendments"),
    ("visit.flags", "本次走访的异常标记", "Flags on this visit"),
    (
        "visit.flag_window",
        "标记按截至走访当天的天数计算",
        "Flags computed over the days ending on the visit's day",
    ),
    ("visit.checklist", "两不愁三保障", "Checklist"),
    ("visit.problems", "存在问题", "Problems"),
    ("visit.help", "帮扶措施", "Help given"),
    ("visit.diary", "民情日记", "Diary"),
    ("visit.photos", "照片", "Photos"),
    ("checklist.ok", "正常", "ok"),
    ("checklist.problem", "有问题", "problem"),
    ("checklist.na", "不适用", "not applicable"),
    ("photo.alt", "走访照片", "Visit photo"),
    ("photo.pending", "尚未上传", "not yet uploaded"),
    ("photo.hash", "哈希（SHA-256）", "Hash (SHA-256)"),
    ("photo.size", "大小（字节）", "Size (bytes)"),
    ("photo.source", "来源", "Source"),
    ("photo.captured", "拍摄时间（应用）", "Captured at (app)"),
    ("photo.exif_time", "EXIF 拍摄时间", "EXIF capture time"),
    ("photo.exif_location", "EXIF 位置", "EXIF position"),
    ("photo.stored", "上传完成时间", "Upload completed"),
    ("photo.also", "同一照片的其他走访", "Also named by visits"),
    ("source.camera", "相机拍摄", "camera"),
    ("source.gallery", "相册选取", "gallery"),
    (
        "anomaly.manual_entry",
        "手工输入农户代码",
        "code typed by hand",
    ),
    (
        "anomaly.far_from_household",
        "定位远离农户",
        "far from the household",
    ),
    (
        "anomaly.impossible_travel",
        "不可能的行程",
        "impossible travel",
    ),
    ("anomaly.clock_skew", "时钟偏差", "clock skew"),
    ("anomaly.copied_diary", "日记雷同", "copied diary"),
    (
        "anomaly.too_many_in_day",
        "单日走访过多",
        "too many in a day",
    ),
    ("anomaly.reused_photo", "照片重复使用", "reused photo"),
    ("anomaly.gallery_photo", "相册照片", "gallery photo"),
    (
        "anomaly.photo_time_mismatch",
        "照片时间不符",
        "photo time mismatch",
    ),
    (
        "anomaly.photo_far_from_household",
        "照片位置远离农户",
        "photo far from the household",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, zh, en) in LABELS {
            assert!(keys.insert(*key), "{key} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
            assert_ne!(zh, en, "{key} is not translated");
        }
    }

    #[test]
    fn every_anomaly_flag_has_a_label() {
        for kind in crate::report::flags::FlagKind::ALL {
            let key = format!("anomaly.{}", kind.name());
            assert!(LABELS.iter().any(|(k, _, _)| *k == key), "{key}");
        }
    }

    #[test]
    fn accept_language_prefers_the_higher_quality() {
        assert_eq!(from_accept_language("en-US,en;q=0.9,zh;q=0.8"), Lang::En);
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(from_accept_language("en;q=0.5, zh;q=0.7"), Lang::Zh);
        assert_eq!(from_accept_language("fr-FR"), Lang::Zh);
        assert_eq!(from_accept_language(""), Lang::Zh);
    }

    #[test]
    fn a_label_reads_in_the_chosen_language() {
        assert_eq!(Lang::En.t("nav.devices"), "Device sync health");
        assert_eq!(Lang::Zh.t("nav.devices"), "设备同步");
        assert_eq!(Lang::En.t("no.such.key"), "?");
    }
}
