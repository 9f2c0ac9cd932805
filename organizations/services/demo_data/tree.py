"""The demo organization's department tree (ORG-3): planned for the roster's size, then
inserted level by level."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from organizations.models import (
    Department,
    Organization,
)
from organizations.services.demo_data.loading import BATCH_SIZE

DEMO_ROOT_DEPARTMENT = "杭州云栖科技有限公司 Hangzhou Yunqi Technology"


MEMBERS_PER_TEAM = 40


MAX_TEAMS = 5_000


MAX_TEAMS_PER_UNIT = 12  # above this, teams are grouped under an extra tree level


TEAMS_PER_GROUP = 10


@dataclass(frozen=True)
class Unit:
    """A second-level department; ``flavours`` name its teams (cities, product lines)."""

    name_zh: str
    name_en: str
    flavours: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Division:
    """A first-level department; ``weight`` is its share of teams and so of headcount."""

    key: str
    name: str
    weight: float
    units: tuple[Unit, ...]


DIVISIONS: tuple[Division, ...] = (
    Division(
        "rd",
        "研发中心 R&D Center",
        0.38,
        (
            Unit("平台研发部", "Platform Engineering", (("账号服务", "Accounts"), ("开放平台", "Open Platform"))),
            Unit("协同办公研发部", "Collaboration Apps", (("考勤", "Attendance"), ("审批", "Approvals"))),
            Unit("移动端研发部", "Mobile Engineering", (("iOS", "iOS"), ("Android", "Android"), ("鸿蒙", "HarmonyOS"))),
            Unit("数据智能部", "Data Intelligence", (("数据平台", "Data Platform"), ("智能搜索", "Search"))),
            Unit("质量保障部", "Quality Assurance"),
            Unit("基础设施部", "Infrastructure", (("云平台", "Cloud Platform"), ("安全", "Security"))),
        ),
    ),
    Division(
        "sales",
        "销售部 Sales",
        0.24,
        (
            Unit("华东大区", "East China Region", (("杭州", "Hangzhou"), ("上海", "Shanghai"), ("南京", "Nanjing"))),
            Unit("华北大区", "North China Region", (("北京", "Beijing"), ("天津", "Tianjin"), ("济南", "Jinan"))),
            Unit("华南大区", "South China Region", (("广州", "Guangzhou"), ("深圳", "Shenzhen"), ("厦门", "Xiamen"))),
            Unit("西部大区", "West China Region", (("成都", "Chengdu"), ("重庆", "Chongqing"), ("西安", "Xi'an"))),
            Unit("大客户部", "Key Accounts", (("金融行业", "Financial Services"), ("公共事业", "Public Sector"))),
        ),
    ),
    Division(
        "marketing",
        "市场部 Marketing",
        0.07,
        (Unit("品牌部", "Brand"), Unit("数字营销部", "Digital Marketing"), Unit("市场活动部", "Events")),
    ),
    Division(
        "hr",
        "人力资源部 Human Resources",
        0.05,
        (Unit("招聘组", "Talent Acquisition"), Unit("薪酬福利组", "Compensation & Benefits"), Unit("组织发展组", "OD")),
    ),
    Division(
        "finance",
        "财务部 Finance",
        0.05,
        (Unit("会计组", "Accounting"), Unit("财务分析组", "FP&A"), Unit("税务组", "Tax")),
    ),
    Division(
        "cs",
        "客户成功部 Customer Success",
        0.16,
        (
            Unit("实施交付部", "Implementation", (("华东", "East"), ("华北", "North"), ("华南", "South"))),
            Unit("技术支持部", "Technical Support", (("一线支持", "Tier 1"), ("二线支持", "Tier 2"))),
            Unit("客户运营部", "Customer Operations"),
        ),
    ),
    Division(
        "admin",
        "行政部 Administration",
        0.05,
        (Unit("综合行政组", "General Affairs"), Unit("IT 支持组", "IT Support"), Unit("法务组", "Legal")),
    ),
)


SALES = "sales"


@dataclass(eq=False)
class PlannedDepartment:
    """A department before (and, once ``obj`` is set, after) it is inserted."""

    name: str
    division: str | None
    parent: PlannedDepartment | None
    sort_order: int
    depth: int
    children: list[PlannedDepartment] = field(default_factory=list)
    obj: Department | None = None

    def add(self, name: str, division: str | None = None) -> PlannedDepartment:
        child = PlannedDepartment(name, division or self.division, self, len(self.children), self.depth + 1)
        self.children.append(child)
        return child


def _team_name(unit: Unit, index: int) -> str:
    if unit.flavours:
        (zh, en), number = unit.flavours[index % len(unit.flavours)], index // len(unit.flavours) + 1
    else:
        zh, en, number = unit.name_zh, unit.name_en, index + 1
    return f"{zh}{number}组 {en} Team {number}"


def plan_department_tree(members: int) -> PlannedDepartment:
    """The tree for a roster of ``members`` (ORG-3): company, divisions, units, optional
    groups, then leaf teams of about ``MEMBERS_PER_TEAM`` people each."""
    total_teams = min(MAX_TEAMS, max(1, math.ceil(members / MEMBERS_PER_TEAM)))
    root = PlannedDepartment(DEMO_ROOT_DEPARTMENT, None, None, 0, 0)
    for division in DIVISIONS:
        division_node = root.add(division.name, division.key)
        teams = max(1, round(total_teams * division.weight))
        units = division.units[: min(len(division.units), teams)]
        for position, unit in enumerate(units):
            unit_node = division_node.add(f"{unit.name_zh} {unit.name_en}")
            unit_teams = teams // len(units) + (1 if position < teams % len(units) else 0)
            if unit_teams <= MAX_TEAMS_PER_UNIT:
                for index in range(unit_teams):
                    unit_node.add(_team_name(unit, index))
                continue
            for group_start in range(0, unit_teams, TEAMS_PER_GROUP):
                number = group_start // TEAMS_PER_GROUP + 1
                group = unit_node.add(f"{unit.name_zh}第{number}分部 {unit.name_en} Division {number}")
                for index in range(group_start, min(unit_teams, group_start + TEAMS_PER_GROUP)):
                    group.add(_team_name(unit, index))
    return root


def _levels(root: PlannedDepartment) -> list[list[PlannedDepartment]]:
    levels: list[list[PlannedDepartment]] = [[root]]
    while True:
        following = [child for node in levels[-1] for child in node.children]
        if not following:
            return levels
        levels.append(following)


def create_department_tree(organization: Organization, root: PlannedDepartment) -> list[PlannedDepartment]:
    """Insert the planned tree level by level, then write every materialized path.

    ``bulk_create`` returns primary keys on SQLite and PostgreSQL, so each level can point
    at its parents; a path (ORG-3) needs the row's own key, hence the one ``bulk_update``
    once all keys are known."""
    created: list[Department] = []
    nodes: list[PlannedDepartment] = []
    for level in _levels(root):
        objs = [
            Department(
                organization=organization,
                parent_id=node.parent.obj.pk if node.parent else None,
                name=node.name[:200],
                depth=node.depth,
                sort_order=node.sort_order,
            )
            for node in level
        ]
        Department.objects.bulk_create(objs, batch_size=BATCH_SIZE)
        for node, obj in zip(level, objs, strict=True):
            obj.path = obj.compute_path(node.parent.obj.path if node.parent else "")
            node.obj = obj
        created.extend(objs)
        nodes.extend(level)
    Department.objects.bulk_update(created, ["path"], batch_size=500)
    return nodes
