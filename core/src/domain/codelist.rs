//! Code lists (代码表) as data. The store seeds these rows on creation; a registry import may
//! add codes (a province's own cause codes, say) without a new app release, so nothing on the
//! wire is an enum frozen at build time: a code is valid when the store's table holds it.

use serde::{Deserialize, Serialize};

/// One code of one list, e.g. `("poverty_cause", "1", "因病", "illness")`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeEntry {
    pub list: String,
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    /// The code's group where a list has one: a measure category's five-batches bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// List names used by the validation rules.
pub mod lists {
    pub const POVERTY_CAUSE: &str = "poverty_cause";
    pub const HOUSEHOLD_ATTRIBUTE: &str = "household_attribute";
    pub const POVERTY_STATUS: &str = "poverty_status";
    pub const HEALTH: &str = "health";
    pub const LABOUR_SKILL: &str = "labour_skill";
    pub const WORK_STATUS: &str = "work_status";
    pub const EDUCATION: &str = "education";
    pub const RELATIONSHIP: &str = "relationship";
    pub const ETHNICITY: &str = "ethnicity";
    pub const SEX: &str = "sex";
    pub const FIVE_BATCHES: &str = "five_batches";
    pub const MEASURE_CATEGORY: &str = "measure_category";
    pub const VISIT_KIND: &str = "visit_kind";
    pub const CHECKLIST_ITEM: &str = "checklist_item";
    pub const CADRE_ROLE: &str = "cadre_role";
    pub const HOUSING_SAFETY: &str = "housing_safety";
}

/// (list, code, Chinese label, English label, parent)
type Seed = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const SEED: &[Seed] = &[
    ("poverty_cause", "1", "因病", "illness", None),
    ("poverty_cause", "2", "因残", "disability", None),
    ("poverty_cause", "3", "因学", "schooling", None),
    ("poverty_cause", "4", "因灾", "disaster", None),
    ("poverty_cause", "5", "缺土地", "lack of land", None),
    ("poverty_cause", "6", "缺水", "lack of water", None),
    ("poverty_cause", "7", "缺技术", "lack of technology", None),
    ("poverty_cause", "8", "缺劳动力", "lack of labour", None),
    ("poverty_cause", "9", "缺资金", "lack of funds", None),
    (
        "poverty_cause",
        "10",
        "交通条件落后",
        "poor transport",
        None,
    ),
    (
        "poverty_cause",
        "11",
        "自身发展动力不足",
        "lack of motivation",
        None,
    ),
    ("poverty_cause", "12", "因婚", "marriage", None),
    ("poverty_cause", "99", "其他", "other", None),
    (
        "household_attribute",
        "1",
        "一般贫困户",
        "ordinary poor household",
        None,
    ),
    (
        "household_attribute",
        "2",
        "低保贫困户",
        "minimum-living-allowance household",
        None,
    ),
    (
        "household_attribute",
        "3",
        "特困供养贫困户",
        "extreme-poverty support household",
        None,
    ),
    (
        "household_attribute",
        "4",
        "一般农户",
        "ordinary rural household",
        None,
    ),
    ("poverty_status", "0", "未脱贫", "not exited", None),
    ("poverty_status", "1", "预脱贫", "pre-exit", None),
    ("poverty_status", "2", "已脱贫", "exited", None),
    ("poverty_status", "3", "注销", "deregistered", None),
    ("poverty_status", "4", "返贫", "relapsed", None),
    ("health", "1", "健康", "healthy", None),
    ("health", "2", "常见慢性病", "common chronic illness", None),
    ("health", "3", "特殊慢性病", "special chronic illness", None),
    ("health", "4", "重大疾病", "serious illness", None),
    ("health", "5", "残疾", "disabled", None),
    ("labour_skill", "1", "普通劳动力", "ordinary labour", None),
    (
        "labour_skill",
        "2",
        "丧失劳动力",
        "lost labour capacity",
        None,
    ),
    ("labour_skill", "3", "无劳动力", "no labour capacity", None),
    ("labour_skill", "4", "技能劳动力", "skilled labour", None),
    (
        "work_status",
        "1",
        "旗县内务工",
        "working within the banner or county",
        None,
    ),
    (
        "work_status",
        "2",
        "旗县外市内务工",
        "working in the city outside the county",
        None,
    ),
    (
        "work_status",
        "3",
        "市外省内务工",
        "working in the province outside the city",
        None,
    ),
    (
        "work_status",
        "4",
        "省外务工",
        "working outside the province",
        None,
    ),
    ("work_status", "5", "无", "not working away", None),
    (
        "education",
        "01",
        "文盲或半文盲",
        "illiterate or semi-literate",
        None,
    ),
    ("education", "02", "小学", "primary school", None),
    ("education", "03", "初中", "junior secondary", None),
    ("education", "04", "高中", "senior secondary", None),
    ("education", "05", "大专及以上", "college or above", None),
    ("education", "06", "学龄前儿童", "pre-school child", None),
    ("relationship", "01", "户主", "head of household", None),
    ("relationship", "02", "配偶", "spouse", None),
    ("relationship", "03", "之子", "son", None),
    ("relationship", "04", "之女", "daughter", None),
    ("relationship", "05", "之儿媳", "daughter-in-law", None),
    ("relationship", "06", "之女婿", "son-in-law", None),
    ("relationship", "07", "之孙子", "grandson", None),
    ("relationship", "08", "之孙女", "granddaughter", None),
    ("relationship", "11", "之父", "father", None),
    ("relationship", "12", "之母", "mother", None),
    ("relationship", "99", "其他", "other", None),
    ("ethnicity", "01", "汉族", "Han", None),
    ("ethnicity", "02", "蒙古族", "Mongol", None),
    ("ethnicity", "03", "回族", "Hui", None),
    ("ethnicity", "10", "朝鲜族", "Korean", None),
    ("ethnicity", "11", "满族", "Manchu", None),
    ("ethnicity", "31", "达斡尔族", "Daur", None),
    ("ethnicity", "44", "俄罗斯族", "Russian", None),
    ("ethnicity", "45", "鄂温克族", "Evenki", None),
    ("ethnicity", "52", "鄂伦春族", "Oroqen", None),
    ("sex", "1", "男", "male", None),
    ("sex", "2", "女", "female", None),
    (
        "five_batches",
        "production",
        "发展生产脱贫一批",
        "production",
        None,
    ),
    (
        "five_batches",
        "relocation",
        "易地搬迁脱贫一批",
        "relocation",
        None,
    ),
    (
        "five_batches",
        "ecological",
        "生态补偿脱贫一批",
        "ecological compensation",
        None,
    ),
    (
        "five_batches",
        "education",
        "发展教育脱贫一批",
        "education",
        None,
    ),
    (
        "five_batches",
        "safety_net",
        "社会保障兜底一批",
        "social-security safety net",
        None,
    ),
    (
        "measure_category",
        "industry",
        "产业扶贫",
        "industry",
        Some("production"),
    ),
    (
        "measure_category",
        "employment",
        "就业扶贫",
        "employment",
        Some("production"),
    ),
    (
        "measure_category",
        "relocation",
        "易地扶贫搬迁",
        "relocation",
        Some("relocation"),
    ),
    (
        "measure_category",
        "public_post",
        "公益岗位",
        "public-welfare post",
        Some("safety_net"),
    ),
    (
        "measure_category",
        "education",
        "教育扶贫",
        "education",
        Some("education"),
    ),
    (
        "measure_category",
        "health",
        "健康扶贫",
        "health",
        Some("safety_net"),
    ),
    (
        "measure_category",
        "housing",
        "危房改造",
        "dilapidated-housing renovation",
        Some("safety_net"),
    ),
    (
        "measure_category",
        "finance",
        "金融扶贫",
        "microcredit",
        Some("production"),
    ),
    (
        "measure_category",
        "living",
        "生活条件改善",
        "living conditions",
        Some("safety_net"),
    ),
    (
        "measure_category",
        "welfare",
        "综合保障",
        "comprehensive protection",
        Some("safety_net"),
    ),
    (
        "measure_category",
        "ecology",
        "生态扶贫",
        "ecological",
        Some("ecological"),
    ),
    (
        "measure_category",
        "other",
        "其他",
        "other",
        Some("production"),
    ),
    ("visit_kind", "routine", "日常走访", "routine visit", None),
    ("visit_kind", "policy", "政策宣讲", "policy briefing", None),
    ("visit_kind", "problem", "解决问题", "problem solving", None),
    (
        "visit_kind",
        "exit_verification",
        "脱贫核验",
        "exit verification",
        None,
    ),
    ("visit_kind", "follow_up", "回访", "follow-up", None),
    ("checklist_item", "food", "不愁吃", "enough food", None),
    (
        "checklist_item",
        "clothing",
        "不愁穿",
        "enough clothing",
        None,
    ),
    (
        "checklist_item",
        "education",
        "义务教育有保障",
        "compulsory education",
        None,
    ),
    (
        "checklist_item",
        "medical",
        "基本医疗有保障",
        "basic medical care",
        None,
    ),
    (
        "checklist_item",
        "housing",
        "住房安全有保障",
        "safe housing",
        None,
    ),
    (
        "checklist_item",
        "water",
        "饮水安全有保障",
        "safe drinking water",
        None,
    ),
    (
        "cadre_role",
        "assisting",
        "帮扶责任人",
        "assisting cadre",
        None,
    ),
    (
        "cadre_role",
        "first_secretary",
        "第一书记",
        "first secretary",
        None,
    ),
    (
        "cadre_role",
        "work_team",
        "驻村工作队员",
        "village work-team member",
        None,
    ),
    (
        "cadre_role",
        "village_official",
        "村干部",
        "village official",
        None,
    ),
    ("housing_safety", "A", "A级", "grade A (safe)", None),
    ("housing_safety", "B", "B级", "grade B (safe)", None),
    (
        "housing_safety",
        "C",
        "C级",
        "grade C (needs renovation)",
        None,
    ),
    ("housing_safety", "D", "D级", "grade D (dangerous)", None),
];

/// The code lists every new store starts with.
pub fn seed() -> impl Iterator<Item = CodeEntry> {
    SEED.iter().map(|(list, code, zh, en, parent)| CodeEntry {
        list: (*list).to_string(),
        code: (*code).to_string(),
        label_zh: (*zh).to_string(),
        label_en: (*en).to_string(),
        parent: parent.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_has_no_duplicate_codes_and_every_measure_has_a_batch() {
        let mut keys = std::collections::BTreeSet::new();
        for entry in seed() {
            assert!(
                keys.insert((entry.list.clone(), entry.code.clone())),
                "{entry:?}"
            );
            if entry.list == lists::MEASURE_CATEGORY {
                let batch = entry.parent.as_deref().unwrap();
                assert!(seed().any(|e| e.list == lists::FIVE_BATCHES && e.code == batch));
            }
        }
    }
}
