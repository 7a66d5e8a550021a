//! Chinese text for measures and visits, assembled from templates. The pools are broad and the
//! templates carry numbers, so that two visits rarely share a diary: the supervisors' checks look
//! for copy-pasted diaries, and synthetic data that trips them by accident would be useless.

use chrono::{Datelike, NaiveDate, Weekday};
use rand::Rng;

use super::{between, pick, pick_str};
use crate::domain::visit::HelpGiven;

/// How a template's cost is drawn.
#[derive(Clone, Copy)]
enum Cost {
    None,
    /// A cost in yuan within the range.
    Range(u32, u32),
    /// The template's number times the factor is the cost (a subsidy of `{n}` yuan).
    N(u32),
}

/// (measure_category, template with an optional `{n}`, range of `{n}`, cost)
type Template = (&'static str, &'static str, (u32, u32), Cost);

/// Measures as the registry records them: what was arranged over the year.
const MEASURES: &[Template] = &[
    (
        "industry",
        "发放基础母牛{n}头",
        (1, 2),
        Cost::Range(6000, 13000),
    ),
    (
        "industry",
        "扶持种植大豆{n}亩，提供良种和化肥",
        (10, 60),
        Cost::Range(500, 3000),
    ),
    (
        "industry",
        "入股村集体养殖合作社，年分红{n}元",
        (800, 3000),
        Cost::None,
    ),
    (
        "industry",
        "发放扶贫羊{n}只",
        (5, 20),
        Cost::Range(4000, 12000),
    ),
    (
        "industry",
        "扶持发展庭院经济，种植黑木耳{n}段",
        (500, 3000),
        Cost::Range(1000, 4000),
    ),
    (
        "employment",
        "推荐到旗里扶贫车间务工，月收入{n}元",
        (1800, 3200),
        Cost::None,
    ),
    (
        "employment",
        "组织参加农机驾驶技能培训{n}天",
        (3, 10),
        Cost::None,
    ),
    (
        "public_post",
        "安排生态护林员公益岗位，年补助{n}元",
        (6000, 10000),
        Cost::N(1),
    ),
    (
        "public_post",
        "安排村级保洁员公益岗位，月工资{n}元",
        (500, 1000),
        Cost::None,
    ),
    (
        "education",
        "落实雨露计划职业教育补助{n}元",
        (1500, 3000),
        Cost::N(1),
    ),
    (
        "education",
        "落实义务教育寄宿生生活补助{n}元",
        (1000, 1250),
        Cost::N(1),
    ),
    ("health", "办理慢病卡，签约家庭医生", (0, 0), Cost::None),
    (
        "health",
        "住院费用经基本医保、大病保险和医疗救助报销{n}%",
        (85, 92),
        Cost::None,
    ),
    ("health", "落实先诊疗后付费和一站式结算", (0, 0), Cost::None),
    (
        "housing",
        "实施危房改造，新建砖混住房{n}平方米",
        (40, 60),
        Cost::Range(30000, 45000),
    ),
    (
        "housing",
        "维修加固房屋，更换门窗和屋顶",
        (0, 0),
        Cost::Range(3000, 8000),
    ),
    (
        "finance",
        "协调发放扶贫小额信贷{n}万元，财政全额贴息",
        (2, 5),
        Cost::N(10000),
    ),
    (
        "living",
        "实施改水改厕，自来水入户",
        (0, 0),
        Cost::Range(1500, 3000),
    ),
    (
        "living",
        "发放取暖用煤{n}吨",
        (2, 4),
        Cost::Range(800, 1800),
    ),
    (
        "welfare",
        "纳入农村低保，月补助{n}元",
        (300, 520),
        Cost::None,
    ),
    (
        "welfare",
        "落实残疾人两项补贴，每月{n}元",
        (50, 100),
        Cost::None,
    ),
    ("welfare", "落实特困人员救助供养", (0, 0), Cost::None),
    (
        "ecology",
        "发放草原生态保护补助奖励资金{n}元",
        (2000, 8000),
        Cost::N(1),
    ),
    ("ecology", "发放退耕还林补助{n}元", (1000, 3000), Cost::N(1)),
    (
        "relocation",
        "易地扶贫搬迁至镇区集中安置点",
        (0, 0),
        Cost::Range(20000, 50000),
    ),
    ("other", "协调解决农机具维修", (0, 0), Cost::None),
    ("other", "帮助申请临时救助{n}元", (500, 2000), Cost::N(1)),
];

/// Help a cadre gives on the spot during a visit: smaller and more concrete.
const HELP: &[Template] = &[
    (
        "industry",
        "联系合作社收购大豆{n}斤",
        (2000, 9000),
        Cost::None,
    ),
    (
        "industry",
        "送去牛羊饲料{n}袋",
        (5, 20),
        Cost::Range(300, 1200),
    ),
    ("industry", "联系兽医上门给牛羊防疫", (0, 0), Cost::None),
    ("employment", "推荐到镇上工地务工", (0, 0), Cost::None),
    (
        "employment",
        "介绍到合作社打零工，日工资{n}元",
        (120, 200),
        Cost::None,
    ),
    (
        "public_post",
        "协助申报生态护林员公益岗位",
        (0, 0),
        Cost::None,
    ),
    ("education", "帮助申请助学补助", (0, 0), Cost::None),
    (
        "education",
        "送去书包和学习用品",
        (0, 0),
        Cost::Range(100, 300),
    ),
    ("health", "联系家庭医生上门随访", (0, 0), Cost::None),
    ("health", "协助办理慢病卡", (0, 0), Cost::None),
    ("health", "协助报销住院费用{n}元", (800, 12000), Cost::None),
    ("health", "送去常用药品", (0, 0), Cost::Range(50, 300)),
    (
        "housing",
        "联系住建部门核定房屋安全等级",
        (0, 0),
        Cost::None,
    ),
    (
        "housing",
        "帮助修补漏雨屋顶",
        (0, 0),
        Cost::Range(200, 1500),
    ),
    ("finance", "讲解扶贫小额信贷申请流程", (0, 0), Cost::None),
    (
        "living",
        "送去米面油等生活用品",
        (0, 0),
        Cost::Range(200, 500),
    ),
    (
        "living",
        "送去过冬用煤{n}吨",
        (1, 3),
        Cost::Range(600, 1500),
    ),
    ("living", "帮助清理院落，修缮院墙", (0, 0), Cost::None),
    ("welfare", "协助申请临时救助", (0, 0), Cost::None),
    ("welfare", "帮助办理低保年审手续", (0, 0), Cost::None),
    ("ecology", "讲解草原生态补奖政策", (0, 0), Cost::None),
    ("other", "帮助联系维修农机具", (0, 0), Cost::None),
    ("other", "帮助代缴电费{n}元", (50, 300), Cost::N(1)),
];

fn fill<R: Rng + ?Sized>(rng: &mut R, t: &Template) -> (String, Option<f64>) {
    let (_, template, (lo, hi), cost) = *t;
    let n = between(rng, lo, hi);
    let content = template.replace("{n}", &n.to_string());
    let cost = match cost {
        Cost::None => None,
        // Costs are whole yuan in tens, as receipts are.
        Cost::Range(lo, hi) => Some(f64::from(between(rng, lo / 10, hi / 10)) * 10.0),
        Cost::N(factor) => Some(f64::from(n) * f64::from(factor)),
    };
    (content, cost)
}

fn from_pool<R: Rng + ?Sized>(
    rng: &mut R,
    pool: &[Template],
    category: &str,
) -> (String, Option<f64>) {
    let matching: Vec<&Template> = pool.iter().filter(|t| t.0 == category).collect();
    match pick(rng, &matching) {
        Some(t) => fill(rng, t),
        None => ("宣讲扶贫政策".to_string(), None),
    }
}

/// A registry measure's content and cost for a `measure_category` code.
pub(super) fn measure<R: Rng + ?Sized>(rng: &mut R, category: &str) -> (String, Option<f64>) {
    from_pool(rng, MEASURES, category)
}

/// Help given on a visit, for a `measure_category` code.
pub(super) fn help<R: Rng + ?Sized>(rng: &mut R, category: &str) -> HelpGiven {
    let (content, cost) = from_pool(rng, HELP, category);
    // Small help is often not costed in the diary.
    let cost = cost.filter(|_| rng.random_bool(0.7));
    HelpGiven {
        category: category.to_string(),
        content,
        cost_yuan: cost,
    }
}

/// A problem found on a visit, shaped by the household's main poverty cause.
pub(super) fn problem<R: Rng + ?Sized>(rng: &mut R, cause: &str) -> String {
    let specific: &[&str] = match cause {
        "1" => &[
            "户主患慢性病，长期服药负担较重",
            "家中病人需定期到旗医院复查，交通不便",
            "住院费用尚未报销到位",
        ],
        "2" => &["残疾人补贴尚未到账", "残疾家庭成员需要轮椅等辅具"],
        "3" => &["孩子上高中住宿费用较高", "大学生学费贷款手续未办完"],
        "4" => &["去年受灾后饲草料储备不足", "受灾减产，春耕种子不足"],
        "5" | "6" => &["承包地少，收入来源单一", "草场缺水，牲畜饮水困难"],
        "7" => &["缺乏养殖技术，牛犊成活率低", "种植技术落后，大豆产量低"],
        "8" => &["家中缺少劳动力，耕地无人耕种", "老人独居，生活起居需要照顾"],
        "9" => &["缺少扩大养殖的启动资金", "春耕生产资金短缺"],
        _ => &["发展生产积极性不高", "家庭收入来源单一"],
    };
    const GENERAL: &[&str] = &[
        "冬季取暖用煤不足",
        "草场租金未按时到账",
        "产业分红尚未发放",
        "农机具老旧需要维修",
        "院墙倒塌需要修缮",
        "电视信号不好，看不到政策宣传",
        "家门口道路雨季泥泞难行",
    ];
    let pool = if rng.random_bool(0.65) {
        specific
    } else {
        GENERAL
    };
    pick_str(rng, pool).to_string()
}

/// The note for a checklist item found to have a problem.
pub(super) fn checklist_note<R: Rng + ?Sized>(rng: &mut R, item: &str) -> String {
    let pool: &[&str] = match item {
        "food" => &["家中口粮不足，需协调救助粮", "冬春之交存粮偏少"],
        "clothing" => &["冬季御寒衣物不足", "老人缺少棉衣棉被"],
        "education" => &["有适龄儿童辍学在家，需要劝返", "学生寄宿费用负担重"],
        "medical" => &[
            "有家庭成员未参加新农合",
            "慢病卡尚未办理",
            "尚未签约家庭医生",
        ],
        "housing" => &[
            "房屋墙体开裂，安全等级低",
            "屋顶漏雨，需要维修",
            "冬季取暖设施老旧",
        ],
        _ => &["水井水质不达标", "冬季管道冻裂，取水困难", "自来水尚未入户"],
    };
    pick_str(rng, pool).to_string()
}

/// What the diary needs to know about the visit.
pub(super) struct DiaryFacts<'a> {
    pub day: NaiveDate,
    pub village: &'a str,
    pub group: Option<&'a str>,
    pub kind: &'a str,
    pub size: usize,
    pub main_cause: &'a str,
    pub pastoral: bool,
    pub help_category: Option<&'a str>,
    /// Whether a child of compulsory-school age lives in the household.
    pub children: bool,
    pub follow_up: Option<NaiveDate>,
}

const DIARY_MAX_CHARS: usize = 120;
const DIARY_MIN_CHARS: usize = 20;

/// A diary entry (民情日记) of 20–120 characters.
pub(super) fn diary<R: Rng + ?Sized>(rng: &mut R, f: &DiaryFacts<'_>) -> String {
    // Phrases that name the weather or the weekend must fit the day, or the diary reads false.
    let cold = matches!(f.day.month(), 10..=12 | 1..=4);
    let weekend = matches!(f.day.weekday(), Weekday::Sat | Weekday::Sun);
    let mut opening = String::new();
    if rng.random_bool(0.5) {
        opening.push_str(&format!("{}月{}日", f.day.month(), f.day.day()));
        let weather: &[&str] = match f.day.month() {
            11 | 12 | 1..=3 => &["，", "上午，", "下午，", "，冒着严寒，", "，顶风冒雪，"],
            6..=8 => &["，", "上午，", "下午，", "，冒着酷暑，", "，雨后，"],
            _ => &["，", "上午，", "下午，", "，天气晴，"],
        };
        opening.push_str(pick_str(rng, weather));
    }
    let place = format!("{}{}", f.village, f.group.unwrap_or(""));
    let policies: &[&str] = if f.pastoral {
        &[
            "健康扶贫",
            "教育资助",
            "产业奖补",
            "低保兜底",
            "小额信贷",
            "草原生态补奖",
            "危房改造",
        ]
    } else {
        &[
            "健康扶贫",
            "教育资助",
            "产业奖补",
            "低保兜底",
            "小额信贷",
            "退耕还林补助",
            "危房改造",
        ]
    };
    let purpose = match f.kind {
        "policy" => format!("入户宣讲{}政策。", pick_str(rng, policies)),
        "problem" => format!(
            "到{place}协调解决{}问题。",
            pick_str(
                rng,
                &[
                    "看病报销",
                    "取暖用煤",
                    "饮水",
                    "房屋漏雨",
                    "产业资金",
                    "孩子上学",
                    "草场租金"
                ]
            )
        ),
        "exit_verification" => "入户开展脱贫核验，逐项核对两不愁三保障。".to_string(),
        "follow_up" => "回访上次反映的问题，看落实情况。".to_string(),
        _ => match between(rng, 0, 4) {
            0 => format!("到{place}入户走访。"),
            1 => "入户走访，了解家中近况。".to_string(),
            2 => "与驻村工作队一起入户。".to_string(),
            3 if f.pastoral => "骑摩托车到牧点走访。".to_string(),
            _ if weekend => format!("利用周末到{place}走访。"),
            _ => format!("到{place}走访，了解生产生活情况。"),
        },
    };
    opening.push_str(&purpose);

    let income: &[&str] = if f.pastoral {
        &["养羊", "养牛", "草场出租", "打草", "低保金", "公益岗位工资"]
    } else {
        &[
            "种大豆",
            "种玉米",
            "养牛",
            "打零工",
            "低保金",
            "采山货",
            "公益岗位工资",
            "土地流转",
        ]
    };
    let income = pick_str(rng, income);
    let cause = match f.main_cause {
        "1" => format!(
            "户主患{}，需长期服药。",
            pick_str(
                rng,
                &[
                    "高血压",
                    "糖尿病",
                    "风湿病",
                    "脑梗后遗症",
                    "腰椎间盘突出",
                    "心脏病",
                    "慢阻肺"
                ]
            )
        ),
        "2" => "家中有残疾人，行动不便。".to_string(),
        "3" => "孩子在外读书，开支较大。".to_string(),
        "4" => format!(
            "去年遭受{}，收入减少。",
            pick_str(rng, &["旱灾", "雹灾", "洪涝", "雪灾"])
        ),
        "7" => format!(
            "缺少{}技术，收入不稳。",
            pick_str(rng, &["养牛", "种植", "养羊", "木耳栽培"])
        ),
        "8" => format!("家中劳动力少，主要靠{income}。"),
        "9" => format!("缺少发展资金，主要靠{income}。"),
        _ => format!("主要靠{income}维持生活。"),
    };
    let situation = format!("家中{}口人，{cause}", f.size);
    let detail = match between(rng, 0, 5) {
        0 => Some(format!("现有牛{}头。", between(rng, 1, 12))),
        1 if f.pastoral => Some(format!("现有羊{}只。", between(rng, 8, 120))),
        1 => Some(format!("种地{}亩。", between(rng, 10, 80))),
        2 => Some(format!(
            "预计今年人均收入{}元。",
            between(rng, 40, 150) * 100
        )),
        _ => None,
    };
    let action = if f.children && rng.random_bool(0.3) {
        "询问了孩子上学情况。".to_string()
    } else {
        pick_str(
            rng,
            &[
                "了解了近期生活和身体情况。",
                "查看了住房和饮水情况。",
                "核实了产业分红到账情况。",
                "讲解了医疗报销政策。",
                "帮助打扫了院落。",
                "核对了明白卡信息。",
                "帮助填写了申请材料。",
                "和户主算了收入账。",
            ],
        )
        .to_string()
    };
    let help = f
        .help_category
        .map(|c| format!("落实{}帮扶。", category_label(c)));
    let closing = match f.follow_up {
        Some(due) => format!("约定{}月{}日前回访。", due.month(), due.day()),
        None => {
            let mut closings = vec![
                "户主表示满意。",
                "约定下次回访再跟进。",
                "家中生活基本有保障。",
                "已向村两委反映情况。",
                "下一步继续跟踪落实。",
                "一家人对帮扶工作表示感谢。",
            ];
            closings.push(if cold {
                "叮嘱注意防寒保暖。"
            } else {
                "提醒注意防汛安全。"
            });
            pick_str(rng, &closings).to_string()
        }
    };

    // Optional pieces go first when the entry is too long.
    let mut pieces: Vec<Option<String>> = vec![
        Some(opening),
        Some(situation),
        detail,
        Some(action),
        help,
        Some(closing),
    ];
    let chars = |p: &[Option<String>]| p.iter().flatten().map(|s| s.chars().count()).sum::<usize>();
    for drop in [2, 4, 3] {
        if chars(&pieces) <= DIARY_MAX_CHARS {
            break;
        }
        if let Some(slot) = pieces.get_mut(drop) {
            *slot = None;
        }
    }
    let mut text: String = pieces.into_iter().flatten().collect();
    if text.chars().count() < DIARY_MIN_CHARS {
        text.push_str("家中生活基本有保障，户主表示满意。");
    }
    text.chars().take(DIARY_MAX_CHARS).collect()
}

fn category_label(category: &str) -> &'static str {
    match category {
        "industry" => "产业",
        "employment" => "就业",
        "relocation" => "搬迁",
        "public_post" => "公益岗位",
        "education" => "教育",
        "health" => "健康",
        "housing" => "住房",
        "finance" => "金融",
        "living" => "生活",
        "welfare" => "兜底保障",
        "ecology" => "生态",
        _ => "其他",
    }
}
