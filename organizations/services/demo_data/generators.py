"""Fake but valid-format personal data for the demo organization (ORG-3, ORG-4, ORG-10).

Demo and load-test rosters must look like real Chinese organization-control data, or the
screens that mask, validate and look up that data (ORG-10) are never exercised
realistically: ID numbers carry a real region code, birth date, gender-parity sequence
and GB 11643 check digit; bank cards carry a real issuer BIN and a Luhn digit; mobiles
use live mainland prefixes and pass ``phonenumbers``. None of it belongs to anyone:
the values are random, e-mail addresses use a reserved ``example.com`` domain, and the
block +8613800000000..+8613800000099 is left alone for the demo logins.

Everything here is a pure function of a ``random.Random``, so a seed reproduces the same
roster; no Faker, because the seeding of 100k-member rosters must stay fast and plain
list look-ups are two orders of magnitude cheaper than Faker providers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate

from dataprotection.identifiers import id_number_check_digit, luhn_check_digit

# --------------------------------------------------------------------------- names

# (surname, pinyin, relative frequency): the common surnames, roughly by population share.
SURNAMES: tuple[tuple[str, str, int], ...] = (
    ("王", "wang", 72),
    ("李", "li", 71),
    ("张", "zhang", 68),
    ("刘", "liu", 53),
    ("陈", "chen", 46),
    ("杨", "yang", 32),
    ("黄", "huang", 24),
    ("赵", "zhao", 20),
    ("吴", "wu", 20),
    ("周", "zhou", 19),
    ("徐", "xu", 14),
    ("孙", "sun", 14),
    ("马", "ma", 13),
    ("朱", "zhu", 13),
    ("胡", "hu", 12),
    ("郭", "guo", 11),
    ("何", "he", 10),
    ("林", "lin", 10),
    ("罗", "luo", 10),
    ("高", "gao", 10),
    ("郑", "zheng", 9),
    ("梁", "liang", 9),
    ("谢", "xie", 8),
    ("宋", "song", 8),
    ("唐", "tang", 8),
    ("许", "xu", 7),
    ("韩", "han", 7),
    ("冯", "feng", 7),
    ("邓", "deng", 7),
    ("曹", "cao", 7),
    ("彭", "peng", 6),
    ("曾", "zeng", 6),
    ("肖", "xiao", 6),
    ("田", "tian", 6),
    ("董", "dong", 6),
    ("潘", "pan", 5),
    ("袁", "yuan", 5),
    ("蔡", "cai", 5),
    ("蒋", "jiang", 5),
    ("余", "yu", 5),
    ("于", "yu", 5),
    ("杜", "du", 5),
    ("叶", "ye", 5),
    ("程", "cheng", 5),
    ("魏", "wei", 5),
    ("苏", "su", 4),
    ("吕", "lyu", 4),
    ("丁", "ding", 4),
    ("任", "ren", 4),
    ("沈", "shen", 4),
    ("姚", "yao", 4),
    ("卢", "lu", 4),
    ("傅", "fu", 3),
    ("钟", "zhong", 3),
    ("姜", "jiang", 3),
    ("崔", "cui", 3),
    ("谭", "tan", 3),
    ("陆", "lu", 3),
    ("范", "fan", 3),
    ("汪", "wang", 3),
    ("廖", "liao", 3),
    ("石", "shi", 3),
    ("金", "jin", 3),
    ("贾", "jia", 3),
    ("夏", "xia", 3),
    ("方", "fang", 3),
    ("邹", "zou", 2),
    ("熊", "xiong", 2),
    ("白", "bai", 2),
    ("孟", "meng", 2),
    ("秦", "qin", 2),
    ("邱", "qiu", 2),
    ("江", "jiang", 2),
    ("薛", "xue", 2),
    ("顾", "gu", 2),
    ("毛", "mao", 2),
    ("邵", "shao", 2),
    ("钱", "qian", 2),
    ("严", "yan", 2),
    ("洪", "hong", 2),
    ("孔", "kong", 2),
    ("欧阳", "ouyang", 1),
    ("司马", "sima", 1),
)
_SURNAME_CUM = tuple(accumulate(weight for _, _, weight in SURNAMES))

# (character, pinyin) for given names, by the gender they are usually chosen for.
MALE_GIVEN: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("勇", "yong"), ("杰", "jie"),
    ("涛", "tao"), ("斌", "bin"), ("超", "chao"), ("明", "ming"), ("刚", "gang"), ("平", "ping"),
    ("辉", "hui"), ("鹏", "peng"), ("华", "hua"), ("飞", "fei"), ("鑫", "xin"), ("波", "bo"),
    ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"), ("帆", "fan"),
    ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("阳", "yang"), ("博", "bo"), ("文", "wen"),
    ("亮", "liang"), ("建", "jian"), ("志", "zhi"), ("国", "guo"), ("峰", "feng"), ("晨", "chen"),
    ("轩", "xuan"), ("昊", "hao"), ("睿", "rui"), ("泽", "ze"), ("然", "ran"), ("子", "zi"),
    ("天", "tian"), ("一", "yi"), ("嘉", "jia"), ("振", "zhen"), ("海", "hai"), ("东", "dong"),
    ("成", "cheng"), ("立", "li"), ("新", "xin"), ("远", "yuan"), ("诚", "cheng"), ("毅", "yi"),
)  # fmt: skip
FEMALE_GIVEN: tuple[tuple[str, str], ...] = (
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
    ("娟", "juan"), ("霞", "xia"), ("秀", "xiu"), ("燕", "yan"), ("玲", "ling"), ("丹", "dan"),
    ("萍", "ping"), ("红", "hong"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("晶", "jing"),
    ("颖", "ying"), ("慧", "hui"), ("倩", "qian"), ("洁", "jie"), ("蕾", "lei"), ("欣", "xin"),
    ("怡", "yi"), ("悦", "yue"), ("雅", "ya"), ("琪", "qi"), ("佳", "jia"), ("梦", "meng"),
    ("瑶", "yao"), ("晓", "xiao"), ("璐", "lu"), ("薇", "wei"), ("莉", "li"), ("月", "yue"),
    ("诗", "shi"), ("涵", "han"), ("馨", "xin"), ("雨", "yu"), ("彤", "tong"), ("可", "ke"),
    ("萱", "xuan"), ("思", "si"), ("婉", "wan"), ("清", "qing"), ("宁", "ning"), ("文", "wen"),
)  # fmt: skip

ENGLISH_MALE = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Thomas", "Daniel",
    "Matthew", "Andrew", "Mark", "Steven", "Paul", "Kevin", "Brian", "Jason", "Eric", "Peter",
    "Henry", "Oliver", "Jack", "Samuel", "Benjamin", "Lucas", "Ethan", "Alexander", "Ryan",
)  # fmt: skip
ENGLISH_FEMALE = (
    "Mary", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Sarah", "Karen", "Emily",
    "Emma", "Olivia", "Sophia", "Grace", "Chloe", "Hannah", "Amy", "Rachel", "Laura", "Anna",
    "Lucy", "Alice", "Claire", "Helen", "Natalie", "Victoria", "Charlotte", "Isabella", "Zoe",
)  # fmt: skip
ENGLISH_SURNAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Turner", "Parker",
    "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Bennett",
)  # fmt: skip

CHINESE_SHARE = 0.7
EMAIL_DOMAIN = "yunqi-tech.example.com"  # RFC 2606: can never deliver to a real mailbox


@dataclass(frozen=True, slots=True)
class PersonName:
    """A generated name with what other generators need to stay consistent with it."""

    display: str
    email_local: str  # lower-case ASCII, e.g. "xiaoming.wang"
    male: bool
    chinese: bool


def chinese_name(rng: random.Random, male: bool) -> PersonName:
    surname, surname_py, _ = rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]
    pool = MALE_GIVEN if male else FEMALE_GIVEN
    chars = [rng.choice(pool)] if rng.random() < 0.3 else [rng.choice(pool), rng.choice(pool)]
    given = "".join(c for c, _ in chars)
    given_py = "".join(p for _, p in chars)
    return PersonName(surname + given, f"{given_py}.{surname_py}", male, True)


def english_name(rng: random.Random, male: bool) -> PersonName:
    first = rng.choice(ENGLISH_MALE if male else ENGLISH_FEMALE)
    last = rng.choice(ENGLISH_SURNAMES)
    return PersonName(f"{first} {last}", f"{first}.{last}".lower(), male, False)


def person_name(rng: random.Random) -> PersonName:
    """About 70% Chinese and 30% English names, genders evenly split."""
    male = rng.random() < 0.5
    if rng.random() < CHINESE_SHARE:
        return chinese_name(rng, male)
    return english_name(rng, male)


# --------------------------------------------------------------------------- mobiles

# Live mainland mobile prefixes (China Mobile, Unicom, Telecom and the virtual operators).
# 174 is left out: most of its range is the satellite service, not a MOBILE number.
MOBILE_PREFIXES: tuple[str, ...] = tuple(
    str(p)
    for p in (
        *range(130, 140),
        150, 151, 152, 153, 155, 156, 157, 158, 159,
        166,
        170, 171, 172, 173, 175, 176, 177, 178,
        *range(180, 190),
        198, 199,
    )
)  # fmt: skip

# The demo logins live in this block; generated roster numbers must never collide with them.
RESERVED_MOBILE_PREFIX = "+86138000000"


def mobile_number(rng: random.Random) -> str:
    """A mainland mobile number in E.164 form, outside the reserved demo-login block."""
    while True:
        number = f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"
        if not number.startswith(RESERVED_MOBILE_PREFIX):
            return number


# --------------------------------------------------------------------------- ID numbers

# Real county-level division codes (GB/T 2260), weighted towards the company's offices.
REGION_CODES: tuple[str, ...] = (
    "330102", "330105", "330106", "330108", "330109", "330110", "330122", "330203", "330302",
    "330402", "330602", "330702",  # Zhejiang: Hangzhou, Ningbo, Wenzhou, Jiaxing, Shaoxing, Jinhua
    "310101", "310104", "310105", "310110", "310112", "310115",  # Shanghai
    "110101", "110102", "110105", "110106", "110108",  # Beijing
    "320102", "320106", "320505", "320583", "320211",  # Jiangsu
    "340104", "350203", "360102", "370102", "370202", "410105", "420106", "430104",
    "440103", "440106", "440304", "440305", "450103", "500103", "510104", "510107",
    "530102", "610113", "120101", "130102", "140105", "210102", "220102", "230103",
)  # fmt: skip


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


def birth_date(rng: random.Random, today: date, min_age: int = 18, max_age: int = 60) -> date:
    """A birth date giving an age between ``min_age`` and ``max_age`` (inclusive) today."""
    earliest = years_before(today, max_age + 1) + timedelta(days=1)
    latest = years_before(today, min_age)
    return date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))


def id_number(rng: random.Random, *, male: bool, born: date) -> str:
    """An 18-digit resident ID number (GB 11643-1999): region, birth date, a sequence
    whose last digit is odd for men and even for women, and the MOD 11-2 check digit."""
    sequence = rng.randrange(1, 100) * 10 + rng.randrange(5) * 2 + (1 if male else 0)
    first17 = f"{rng.choice(REGION_CODES)}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_number_check_digit(first17)


# --------------------------------------------------------------------------- bank cards

# (issuer identification number, card length): real UnionPay debit BINs of the big banks.
CARD_BINS: tuple[tuple[str, int], ...] = (
    ("622202", 19),  # ICBC
    ("621226", 19),  # ICBC
    ("621700", 19),  # China Construction Bank
    ("622700", 19),  # China Construction Bank
    ("622848", 19),  # Agricultural Bank of China
    ("620522", 19),  # Bank of China
    ("621661", 19),  # Bank of China
    ("622262", 19),  # Bank of Communications
    ("622588", 16),  # China Merchants Bank
    ("621483", 16),  # China Merchants Bank
    ("622609", 16),  # Bank of Hangzhou
    ("622908", 16),  # Industrial Bank
)


def bank_card(rng: random.Random) -> str:
    """A 16- or 19-digit card number with a real BIN and a correct Luhn check digit."""
    bin_, length = rng.choice(CARD_BINS)
    body = bin_ + f"{rng.randrange(10 ** (length - 7)):0{length - 7}d}"
    return body + luhn_check_digit(body)


# --------------------------------------------------------------------------- job data

# Per first-level department: (position, grades it may carry). Bilingual like the UI.
POSITIONS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "rd": (
        ("软件工程师 Software Engineer", ("P4", "P5", "P6")),
        ("高级软件工程师 Senior Software Engineer", ("P6", "P7")),
        ("资深工程师 Staff Engineer", ("P7", "P8")),
        ("前端工程师 Frontend Engineer", ("P5", "P6", "P7")),
        ("后端工程师 Backend Engineer", ("P5", "P6", "P7")),
        ("测试工程师 QA Engineer", ("P4", "P5", "P6")),
        ("运维工程师 Site Reliability Engineer", ("P5", "P6", "P7")),
        ("数据工程师 Data Engineer", ("P5", "P6", "P7")),
        ("算法工程师 Algorithm Engineer", ("P6", "P7", "P8")),
        ("产品经理 Product Manager", ("P6", "P7")),
        ("UI 设计师 UI Designer", ("P5", "P6")),
        ("技术经理 Engineering Manager", ("M1", "M2")),
    ),
    "sales": (
        ("销售代表 Sales Representative", ("P4", "P5")),
        ("客户经理 Account Manager", ("P5", "P6")),
        ("大客户经理 Key Account Manager", ("P6", "P7")),
        ("售前工程师 Pre-sales Engineer", ("P5", "P6", "P7")),
        ("渠道经理 Channel Manager", ("P6", "P7")),
        ("销售助理 Sales Assistant", ("P3", "P4")),
        ("销售总监 Sales Director", ("M2", "M3")),
    ),
    "marketing": (
        ("市场专员 Marketing Specialist", ("P4", "P5")),
        ("品牌经理 Brand Manager", ("P6", "P7")),
        ("内容运营 Content Marketing Specialist", ("P4", "P5", "P6")),
        ("活动策划 Event Planner", ("P4", "P5")),
        ("新媒体运营 Social Media Specialist", ("P4", "P5")),
        ("市场分析师 Market Analyst", ("P5", "P6")),
    ),
    "hr": (
        ("招聘专员 Recruiter", ("P4", "P5")),
        ("人力资源业务伙伴 HR Business Partner", ("P6", "P7")),
        ("薪酬福利专员 Compensation & Benefits Specialist", ("P5", "P6")),
        ("培训经理 Learning & Development Manager", ("P6", "M1")),
        ("员工关系专员 Employee Relations Specialist", ("P4", "P5")),
    ),
    "finance": (
        ("会计 Accountant", ("P4", "P5", "P6")),
        ("出纳 Cashier", ("P3", "P4")),
        ("财务分析师 Financial Analyst", ("P5", "P6")),
        ("税务专员 Tax Specialist", ("P5", "P6")),
        ("财务经理 Finance Manager", ("M1", "M2")),
    ),
    "cs": (
        ("客户成功经理 Customer Success Manager", ("P5", "P6", "P7")),
        ("技术支持工程师 Technical Support Engineer", ("P4", "P5", "P6")),
        ("实施顾问 Implementation Consultant", ("P5", "P6")),
        ("客服专员 Customer Service Representative", ("P3", "P4")),
        ("客户培训师 Customer Trainer", ("P5", "P6")),
    ),
    "admin": (
        ("行政专员 Administrative Specialist", ("P3", "P4")),
        ("前台接待 Receptionist", ("P3",)),
        ("行政经理 Office Manager", ("P6", "M1")),
        ("IT 支持工程师 IT Support Engineer", ("P4", "P5")),
        ("法务专员 Legal Counsel", ("P5", "P6", "P7")),
    ),
}


def position_and_grade(rng: random.Random, division: str) -> tuple[str, str]:
    position, grades = rng.choice(POSITIONS[division])
    return position, rng.choice(grades)


# (labor-contract status, relative weight): mostly regular staff, as in a real roster.
CONTRACT_STATUSES: tuple[tuple[str, int], ...] = (
    ("regular", 80),
    ("probation", 8),
    ("fixed_term", 7),
    ("intern", 5),
)
_CONTRACT_CUM = tuple(accumulate(weight for _, weight in CONTRACT_STATUSES))


def contract_status(rng: random.Random) -> str:
    return rng.choices(CONTRACT_STATUSES, cum_weights=_CONTRACT_CUM)[0][0]


def hire_date(rng: random.Random, *, born: date, today: date, contract: str) -> date:
    """A hire date at least a week ago, normally after the person turned 22 and never
    before 16 (the legal working age); probationers and interns joined within the last
    six months, as their status implies."""
    latest = today - timedelta(days=7)
    if contract in ("probation", "intern"):
        earliest = today - timedelta(days=180)
    else:
        earliest = max(years_before(today, 12), years_before(born, -22))
    if earliest > latest:
        earliest = latest - timedelta(days=90)
    earliest = max(earliest, years_before(born, -16))
    latest = max(latest, earliest)
    return date.fromordinal(rng.randint(earliest.toordinal(), latest.toordinal()))


def employee_number(index: int) -> str:
    return f"YQ{index:06d}"


# --------------------------------------------------------------------------- offices


@dataclass(frozen=True, slots=True)
class Office:
    """An office where people clock in, with its switchboard area code."""

    key: str
    address: str
    latitude: float
    longitude: float
    area_code: str
    weight: int


OFFICES: tuple[Office, ...] = (
    Office("hangzhou", "杭州总部 浙江省杭州市西湖区云栖小镇云栖大道 88 号", 30.132987, 120.094522, "0571", 55),
    Office("hangzhou-binjiang", "杭州滨江研发中心 浙江省杭州市滨江区网商路 699 号", 30.187716, 120.188932, "0571", 15),
    Office("shanghai", "上海分公司 上海市浦东新区张江高科技园区碧波路 690 号", 31.203516, 121.587128, "021", 18),
    Office("beijing", "北京分公司 北京市海淀区中关村大街 27 号", 39.983424, 116.316218, "010", 12),
)
_OFFICE_CUM = tuple(accumulate(office.weight for office in OFFICES))


def office(rng: random.Random) -> Office:
    return rng.choices(OFFICES, cum_weights=_OFFICE_CUM)[0]


def office_phone(rng: random.Random, where: Office) -> str:
    return f"{where.area_code}-{rng.randrange(8000_0000, 9000_0000)}"


def punch_spots(rng: random.Random, where: Office, count: int = 64) -> tuple[tuple[Decimal, Decimal], ...]:
    """Jittered GPS fixes within ~60 m of the office, as Decimals ready for the columns.

    Seeding picks from this pool rather than building Decimals per punch: a million
    punches would otherwise spend most of their time formatting coordinates."""
    return tuple(
        (
            Decimal(f"{where.latitude + rng.uniform(-0.0005, 0.0005):.6f}"),
            Decimal(f"{where.longitude + rng.uniform(-0.0005, 0.0005):.6f}"),
        )
        for _ in range(count)
    )


def photo_ref(rng: random.Random) -> str:
    """A random storage name: the reference must not reveal whose face it is (ANON-1)."""
    return f"punch-photos/{rng.getrandbits(128):032x}.jpg"


# --------------------------------------------------------------------------- approvals

CITIES: tuple[tuple[str, str], ...] = (
    ("北京", "Beijing"),
    ("上海", "Shanghai"),
    ("深圳", "Shenzhen"),
    ("广州", "Guangzhou"),
    ("成都", "Chengdu"),
    ("南京", "Nanjing"),
    ("武汉", "Wuhan"),
    ("西安", "Xi'an"),
    ("苏州", "Suzhou"),
    ("宁波", "Ningbo"),
)

_LEAVE = (("年假", "Annual leave"), ("病假", "Sick leave"), ("事假", "Personal leave"), ("调休", "Time off in lieu"))
_EXPENSE = (
    ("差旅费报销", "Travel expense claim"),
    ("客户招待费报销", "Client entertainment expense claim"),
    ("交通费报销", "Transport expense claim"),
    ("团建费用报销", "Team-building expense claim"),
    ("培训费报销", "Training fee claim"),
)
_PURCHASE = (
    ("笔记本电脑", "laptop"),
    ("显示器", "monitor"),
    ("办公椅", "office chair"),
    ("软件许可证", "software licences"),
    ("测试手机", "test phones"),
    ("会议室投影仪", "meeting-room projector"),
)
_REASONS = (
    ("客户现场部署支持", "on-site deployment support"),
    ("季度业务回顾会议", "quarterly business review"),
    ("版本上线保障", "release support"),
    ("新客户拜访", "visiting a new customer"),
    ("行业展会", "industry trade fair"),
    ("项目验收", "project acceptance"),
)


@dataclass(frozen=True, slots=True)
class ApprovalDraft:
    kind: str
    title: str
    details: str
    amount: Decimal | None


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)).scaleb(-2)


def approval(rng: random.Random) -> ApprovalDraft:
    """An approval request with a bilingual title; amounts only where money is asked for."""
    kind = rng.choices(("leave", "expense", "overtime", "travel", "purchase"), cum_weights=(35, 65, 80, 92, 100))[0]
    reason_zh, reason_en = rng.choice(_REASONS)
    details = f"事由：{reason_zh}。Reason: {reason_en}."
    if kind == "leave":
        (zh, en), days = rng.choice(_LEAVE), rng.randint(1, 5)
        return ApprovalDraft(kind, f"{zh}申请 {days} 天 {en} request ({days} days)", details, None)
    if kind == "expense":
        (zh, en), (city_zh, city_en) = rng.choice(_EXPENSE), rng.choice(CITIES)
        return ApprovalDraft(kind, f"{zh}（{city_zh}） {en} ({city_en})", details, _cents(rng, 50, 8000))
    if kind == "overtime":
        hours = rng.choice((2, 3, 4, 6, 8))
        return ApprovalDraft(kind, f"加班申请 {hours} 小时 Overtime request ({hours} h)", details, None)
    if kind == "travel":
        city_zh, city_en = rng.choice(CITIES)
        return ApprovalDraft(kind, f"出差申请：{city_zh} Business trip to {city_en}", details, None)
    item_zh, item_en = rng.choice(_PURCHASE)
    return ApprovalDraft(kind, f"采购申请：{item_zh} Purchase request: {item_en}", details, _cents(rng, 200, 50000))


# --------------------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """One roster entry's worth of personal data, before it meets the database."""

    name: PersonName
    mobile: str
    id_number: str
    bank_card: str
    born: date
    office: Office
    office_email: str
    office_phone: str
    contract: str
    hired_on: date


class PersonGenerator:
    """Generates roster people, keeping mobiles, ID numbers, bank cards and e-mail
    addresses unique across the roster -- a keyed-hash lookup (ORG-10) in the demo must
    find one member, not two. Uniqueness costs one set look-up per value."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self._mobiles: set[str] = set()
        self._id_numbers: set[str] = set()
        self._cards: set[str] = set()
        self._email_counts: dict[str, int] = {}

    def _unique(self, seen: set[str], make) -> str:
        while True:
            value = make()
            if value not in seen:
                seen.add(value)
                return value

    def reserve_mobile(self, mobile: str) -> None:
        self._mobiles.add(mobile)

    def email(self, local: str) -> str:
        count = self._email_counts.get(local, 0) + 1
        self._email_counts[local] = count
        return f"{local}@{EMAIL_DOMAIN}" if count == 1 else f"{local}{count}@{EMAIL_DOMAIN}"

    def person(self, name: PersonName | None = None, mobile: str | None = None) -> DemoPerson:
        rng = self.rng
        name = name or person_name(rng)
        if mobile is None:
            mobile = self._unique(self._mobiles, lambda: mobile_number(rng))
        born = birth_date(rng, self.today)
        contract = contract_status(rng)
        if contract == "intern":  # interns are students, not 45-year-olds
            born = birth_date(rng, self.today, 19, 24)
        where = office(rng)
        return DemoPerson(
            name=name,
            mobile=mobile,
            id_number=self._unique(self._id_numbers, lambda: id_number(rng, male=name.male, born=born)),
            bank_card=self._unique(self._cards, lambda: bank_card(rng)),
            born=born,
            office=where,
            office_email=self.email(name.email_local),
            office_phone=office_phone(rng, where),
            contract=contract,
            hired_on=hire_date(rng, born=born, today=self.today, contract=contract),
        )


def recent_working_days(today: date, count: int) -> list[date]:
    """The ``count`` most recent Monday-to-Friday days before ``today``, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    days.reverse()
    return days


# --------------------------------------------------------------------------- documents


def document_pdf(title: str) -> bytes:
    """A one-page PDF saying it is a demo document (the certification's licence and
    letter): small, valid, with a correct cross-reference table, and nothing real."""
    text = f"{title} - Custodia demo data, not a real document".encode("latin-1", "replace")
    text = text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 14 Tf 50 780 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
