//! Name pools for synthetic people and places, following the naming customs of the peoples of
//! Hulunbuir (../shared/domain.md, "Names for synthetic data"). Every name is assembled from
//! common elements at random, so none is taken from a real register.

use rand::Rng;

use super::{pick_str, weighted};

/// Common Han surnames, roughly by frequency in the northeast (the most common ones appear
/// twice so that they come up more often).
const HAN_SURNAMES: &[&str] = &[
    "王", "王", "李", "李", "张", "张", "刘", "刘", "赵", "赵", "杨", "陈", "孙", "于", "马", "高",
    "徐", "郭", "周", "吴", "朱", "胡", "林", "何", "宋", "郑", "韩", "唐", "冯", "董", "程", "曹",
    "袁", "许", "邓", "沈", "彭", "吕", "苏", "卢", "蒋", "贾", "丁", "魏", "薛", "姜", "范", "石",
    "姚", "谭", "邹", "金", "陆", "郝", "孔", "白", "崔", "康", "毛", "秦", "史", "顾", "侯", "邵",
    "孟", "段", "雷", "尹", "常", "武", "乔", "贺", "付", "田", "任",
];
const HAN_MALE: &[&str] = &[
    "国", "建", "志", "明", "永", "海", "春", "立", "军", "福", "德", "成", "玉", "文", "学", "庆",
    "宝", "金", "山", "林", "长", "树", "忠", "荣", "柱", "江", "胜", "贵", "东", "喜", "峰", "刚",
    "强", "伟", "鹏", "波", "宇", "浩", "磊", "杰", "龙", "平", "富", "祥", "万", "振", "广", "清",
    "利", "生", "财", "双", "铁",
];
const HAN_FEMALE: &[&str] = &[
    "秀", "玉", "桂", "兰", "凤", "英", "华", "芳", "淑", "春", "梅", "丽", "霞", "红", "艳", "敏",
    "静", "娟", "燕", "琴", "莲", "珍", "云", "洁", "婷", "雪", "慧", "颖", "荣", "萍", "杰", "晶",
    "丹", "月", "香", "环", "菊", "彩", "玲", "娜",
];
const KOREAN_SURNAMES: &[&str] = &["金", "朴", "李", "崔", "郑", "姜", "赵", "韩"];
const DAUR_SURNAMES: &[&str] = &["敖", "鄂", "孟", "莫", "郭", "何", "苏"];
const OROQEN_SURNAMES: &[&str] = &["吴", "孟", "关", "魏", "葛", "莫", "白", "何"];
const EVENKI_CLANS: &[&str] = &["杜拉尔", "涂克冬", "那哈他"];
const EVENKI_SHORT: &[&str] = &["杜", "涂", "那"];
const MONGOL_SURNAMES: &[&str] = &["包", "鲍"];
const MONGOL_MALE: &[&str] = &[
    "巴特尔",
    "巴图",
    "布和",
    "阿拉坦",
    "莫日根",
    "巴雅尔",
    "朝鲁",
    "苏和",
    "毕力格",
    "孟和",
    "额尔敦",
    "宝音",
    "特木尔",
    "那顺",
    "乌力吉",
    "吉日格勒",
    "达来",
    "图门",
    "满都拉",
    "格日乐图",
];
const MONGOL_FEMALE: &[&str] = &[
    "其其格",
    "高娃",
    "娜仁",
    "萨仁",
    "敖登",
    "塔娜",
    "乌云",
    "其木格",
    "图雅",
    "萨日娜",
    "斯琴",
    "格日勒",
    "托娅",
    "琪琪格",
    "乌日娜",
    "苏布达",
];
/// Second elements of compound Mongol names (斯琴高娃, 巴图孟和...).
const MONGOL_SECOND_MALE: &[&str] = &["巴特尔", "孟和", "朝鲁", "巴雅尔", "苏和", "毕力格", "达来"];
const MONGOL_SECOND_FEMALE: &[&str] = &["高娃", "其其格", "其木格", "塔娜", "图雅", "花"];

/// Mongol place elements; a gacha's name joins two of them.
const GACHA_FIRST: &[&str] = &[
    "巴音",
    "巴彦",
    "乌兰",
    "查干",
    "呼和",
    "额尔敦",
    "宝日",
    "阿拉坦",
    "希日",
    "哈日",
    "伊和",
    "锡林",
    "乌力吉",
    "白音",
];
const GACHA_SECOND: &[&str] = &[
    "宝力格",
    "诺尔",
    "塔拉",
    "敖包",
    "哈达",
    "浩特",
    "乌拉",
    "布拉格",
    "陶勒盖",
    "胡硕",
    "图",
    "希勒",
    "温都尔",
    "郭勒",
];
/// Names of farming villages (村) in the northeast, often from the settlement era.
const CUN_NAMES: &[&str] = &[
    "红星",
    "红旗",
    "新发",
    "永安",
    "太平",
    "兴隆",
    "长胜",
    "前进",
    "东升",
    "向阳",
    "胜利",
    "富强",
    "双合",
    "三合",
    "永丰",
    "新民",
    "福山",
    "德胜",
    "建设",
    "复兴",
    "民主",
    "团结",
    "光明",
    "和平",
    "联合",
    "保安",
    "东风",
    "新立",
    "友谊",
    "丰收",
    "靠山",
    "河南",
    "榆树",
    "柳毛",
    "大石",
    "五家子",
    "三道沟",
    "西沟",
    "北岗",
    "平安",
    "新兴",
    "长发",
    "宏胜",
    "兴旺",
];
const CUN_PREFIX: &[&str] = &["东", "西", "南", "北", "前", "后", "新", "大", "小"];

const NUMERALS: &[&str] = &[
    "", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
];

/// Whether names of this ethnicity (GB 3304 code) are usually a given name without surname.
fn mongol_style(ethnicity: &str) -> bool {
    ethnicity == "02"
}

/// The surname a child of this ethnicity inherits from its father, if the naming custom has one.
pub(super) fn family_surname<R: Rng + ?Sized>(
    rng: &mut R,
    ethnicity: &str,
) -> Option<&'static str> {
    let pool = match ethnicity {
        "02" => return None,
        "10" => KOREAN_SURNAMES,
        "31" => DAUR_SURNAMES,
        "52" => OROQEN_SURNAMES,
        "45" if rng.random_bool(0.5) => EVENKI_CLANS,
        "45" => EVENKI_SHORT,
        _ => HAN_SURNAMES,
    };
    Some(pick_str(rng, pool))
}

/// A person's name. `surname` is the family's (from [`family_surname`]); Mongol names ignore it
/// except for the occasional 包/鲍.
pub(super) fn person_name<R: Rng + ?Sized>(
    rng: &mut R,
    ethnicity: &str,
    male: bool,
    surname: Option<&str>,
) -> String {
    if mongol_style(ethnicity) {
        return mongol_name(rng, male);
    }
    // Evenki families also use Mongol given names, joined to the clan name with a middle dot
    // as on identity cards.
    if ethnicity == "45" && rng.random_bool(0.4) {
        let clan = surname
            .filter(|s| s.chars().count() > 1)
            .unwrap_or("杜拉尔");
        return format!("{clan}·{}", mongol_name(rng, male));
    }
    let surname = surname.map_or_else(|| pick_str(rng, HAN_SURNAMES).to_string(), str::to_string);
    format!("{surname}{}", han_given_name(rng, male))
}

fn mongol_name<R: Rng + ?Sized>(rng: &mut R, male: bool) -> String {
    let (first, second) = if male {
        (MONGOL_MALE, MONGOL_SECOND_MALE)
    } else {
        (MONGOL_FEMALE, MONGOL_SECOND_FEMALE)
    };
    let mut name = String::new();
    if rng.random_bool(0.08) {
        name.push_str(pick_str(rng, MONGOL_SURNAMES));
    }
    let a = pick_str(rng, first);
    name.push_str(a);
    if rng.random_bool(0.3) {
        let b = pick_str(rng, second);
        if b != a {
            name.push_str(b);
        }
    }
    name
}

fn han_given_name<R: Rng + ?Sized>(rng: &mut R, male: bool) -> String {
    let pool = if male { HAN_MALE } else { HAN_FEMALE };
    let first = pick_str(rng, pool);
    if rng.random_bool(0.15) {
        return first.to_string();
    }
    let mut second = pick_str(rng, pool);
    if second == first && rng.random_bool(0.7) {
        second = pick_str(rng, pool);
    }
    format!("{first}{second}")
}

/// A cadre's name: mostly Han, a fifth Mongol, a few Daur.
pub(super) fn cadre_name<R: Rng + ?Sized>(rng: &mut R) -> String {
    let ethnicity = weighted(rng, &[("01", 75), ("02", 20), ("31", 5)]);
    let male = rng.random_bool(0.7);
    let surname = family_surname(rng, ethnicity);
    person_name(rng, ethnicity, male, surname)
}

/// A village name without the suffix; `pastoral` gives a Mongol gacha name.
pub(super) fn village_stem<R: Rng + ?Sized>(rng: &mut R, pastoral: bool, attempt: usize) -> String {
    if pastoral {
        let stem = format!(
            "{}{}",
            pick_str(rng, GACHA_FIRST),
            pick_str(rng, GACHA_SECOND)
        );
        if attempt > 10 {
            // Crowded townships: real registers disambiguate with 东/西 the same way.
            return format!("{}{stem}", pick_str(rng, &["东", "西", "新"]));
        }
        stem
    } else {
        let stem = pick_str(rng, CUN_NAMES);
        if attempt > 3 || rng.random_bool(0.15) {
            return format!("{}{stem}", pick_str(rng, CUN_PREFIX));
        }
        stem.to_string()
    }
}

/// "一组", "二组" ... "十二组": the group (村民小组) a household belongs to.
pub(super) fn group_name(n: usize) -> String {
    let numeral = match n {
        0 => "零".to_string(),
        1..=10 => NUMERALS.get(n).copied().unwrap_or("十").to_string(),
        11..=19 => format!("十{}", NUMERALS.get(n - 10).copied().unwrap_or("")),
        _ => n.to_string(),
    };
    format!("{numeral}组")
}
