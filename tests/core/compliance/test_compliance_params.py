"""Every parameter a rule uses states its source; profiles apply the numbers they cite; the
explain table and the curriculum file reach the CLI; deadlines by the shift's end."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from core.compliance import PROFILES, RULES, explain_rows, get_profile, read_curriculum
from core.errors import ConfigError
from core.model import Homework, Lesson, Mark
from tests.core.compliance.test_compliance_world import SCHOOL, at, build, prov

REGULATIONS = Path("/work/shared/regulations")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("«", "").replace("»", "")).strip().lower()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_parameter_states_its_source(profile: str) -> None:
    p = get_profile(profile)
    for use in p.uses:
        sources = p.param_sources(use.rule)
        assert set(sources) == set(p.params(use.rule)), use.rule
        for name, src in sources.items():
            assert src.startswith(p.citation(use) + ": «") or src.startswith(
                "выбор школы, по умолчанию "
            ), (use.rule, name, src)


def test_cited_words_are_the_regulations_own() -> None:
    if not REGULATIONS.is_dir():
        pytest.skip("regulations folder /work/shared/regulations is absent")
    texts = {f.name: _norm(f.read_text(encoding="utf-8")) for f in REGULATIONS.glob("0*.txt")}
    for p in PROFILES.values():
        for use in p.uses:
            text = texts[use.file or p.regulation]
            for name, words in use.sources.items():
                for part in words.split("…"):
                    assert _norm(part) in text, (p.id, use.rule, name, part)


def test_no_profile_cites_a_clause_whose_numbers_it_does_not_apply() -> None:
    # The default profile: 000 §4.4.6 → 15:00/20:00, §5.3 → 2 days, 004 §4.2.4 → no edits
    all_ = get_profile("all")
    assert all_.params("lessons.topic_deadline")["deadline"]["time"] == {
        "1": "15:00",
        "2": "20:00",
    }
    assert all_.params("finals.deadline")["days_before"] == 2
    # each rule of "all" is its first regulation's use, with that profile's numbers
    for use in all_.uses:
        owner = next(
            q
            for q in PROFILES.values()
            if q.id != "all" and any(u.rule == use.rule for u in q.uses)
        )
        assert dict(all_.params(use.rule)) == dict(owner.params(use.rule)), use.rule
        assert all_.param_sources(use.rule) == owner.param_sources(use.rule), use.rule
    # edit windows appear in no regulation: where used, they are the school's choice
    for p in PROFILES.values():
        if any(u.rule == "marks.retroactive" for u in p.uses):
            src = p.param_sources("marks.retroactive")["edit_days"]
            assert src.startswith("выбор школы") or "задним числом" in src, (p.id, src)
    assert get_profile("gymn24-stavropol").params("marks.retroactive")["edit_days"] is None


def test_an_override_drops_the_clause_as_source() -> None:
    p = get_profile("gymn2-krasnoyarsk", {"finals.deadline": {"days_before": 5}})
    assert p.param_sources("finals.deadline")["days_before"] == "выбор школы, по умолчанию 5"


def test_avers_forbids_corrections_after_the_entry_deadline() -> None:
    w = build()
    m = w.of(Mark)[0]
    le = next(x for x in w.of(Lesson) if x.id == m.lesson_id)
    w.replace(m, provenance=prov(at(le.date), at(le.date + timedelta(days=1), "13:00")))
    m2 = w.of(Mark)[1]
    le2 = next(x for x in w.of(Lesson) if x.id == m2.lesson_id)
    w.replace(m2, provenance=prov(at(le2.date), at(le2.date + timedelta(days=1), "11:00")))
    findings = w.check("gymn24-stavropol").by_rule()["marks.retroactive"]
    assert [f.message for f in findings] == [
        "отметка исправлена задним числом: через 1 дн. после урока"
    ]


def test_homework_deadline_counts_from_the_shifts_end_not_the_class_day() -> None:
    """002 §7.4: homework within 3 h after the end of the *shift*. 5А's day ends at 13:30;
    1А (same shift) has a lesson until 15:10: the shift ends at 15:10, homework is due 18:10."""
    w = build()
    le = w.lessons("5А")[0]
    first = next(x for x in w.lessons("1А") if x.date == le.date)
    w.replace(first, number=6, start_time=time(14, 25), end_time=time(15, 10))
    hw = next(h for h in w.of(Homework) if h.lesson_id == le.id)
    w.replace(hw, provenance=prov(at(le.date, "17:45")))  # > 16:30, < 18:10
    assert w.count("homework.deadline", "sosh63-altai") == 0
    w.replace(
        next(h for h in w.of(Homework) if h.lesson_id == le.id),
        provenance=prov(at(le.date, "18:30")),
    )
    assert w.count("homework.deadline", "sosh63-altai") == 1


def test_explain_rows_cover_every_rule_and_profile() -> None:
    rows = explain_rows()
    assert {r[0] for r in rows} == set(RULES)
    assert {r[1] for r in rows} == set(PROFILES)
    assert rows[[r[:3] for r in rows].index(("finals.deadline", "all", "days_before"))][:4] == (
        "finals.deadline",
        "all",
        "days_before",
        "2",
    )


def test_cli_explain_prints_the_table() -> None:
    from journalsync.cli import app

    res = CliRunner().invoke(app, ["report", "compliance", "--explain"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "rule | profile | parameter | value | source"
    assert any(
        line.startswith("lessons.topic_deadline | all | deadline | 1 смена 15:00, 2 смена 20:00")
        and "п. 4.4.6" in line
        for line in lines
    )
    one = CliRunner().invoke(
        app, ["report", "compliance", "--explain", "--profile", "school106-novokuznetsk"]
    )
    assert {ln.split(" | ")[1] for ln in one.output.splitlines()[1:]} == {"school106-novokuznetsk"}
    # A profile id a config wrote when profiles were named after platforms still works.
    former = CliRunner().invoke(
        app, ["report", "compliance", "--explain", "--profile", "ruobr-school106"]
    )
    assert former.exit_code == 0, former.output
    assert former.output == one.output


def test_profiles_are_keyed_by_regulation_and_former_ids_still_resolve() -> None:
    from core.compliance import FORMER_IDS
    from core.compliance._catalogue import REG
    from core.platform import installed

    assert set(PROFILES) == {*REG, "all"}  # one profile per regulation, named after its school
    assert not set(installed()) & {part for i in PROFILES for part in i.split("-")}
    for former, current in FORMER_IDS.items():
        assert former in PROFILES and former not in list(PROFILES)
        assert get_profile(former) is PROFILES[current]
        assert get_profile(former).regulation == REG[current]
    with pytest.raises(ConfigError, match="unknown compliance profile 'nosuch'; known: "):
        get_profile("nosuch")


def test_cli_without_school_is_bad_usage() -> None:
    from journalsync.cli import app

    res = CliRunner().invoke(app, ["report", "compliance"])
    assert res.exit_code == 2 and "--school" in res.output


# -- curriculum --------------------------------------------------------------------------------


def test_curriculum_from_cp1251_csv_and_xlsx(tmp_path: Path) -> None:
    csv_path = tmp_path / "plan.csv"
    csv_path.write_bytes(
        "Класс;Предмет;Часов в неделю\n5;Математика;5\n5;Русский язык;4,5\n".encode("cp1251")
    )
    assert read_curriculum(csv_path) == {(5, "Математика"): 5.0, (5, "Русский язык"): 4.5}
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["subject", "grade", "hours"])
    ws.append(["Математика", 5, 2])
    wb.save(tmp_path / "plan.xlsx")
    assert read_curriculum(tmp_path / "plan.xlsx") == {(5, "Математика"): 2.0}


def test_bad_curriculum_names_file_row_and_field(tmp_path: Path) -> None:
    p = tmp_path / "plan.csv"
    p.write_text("grade,subject,hours\n5,Математика,2\n6,Физика,много\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"plan\.csv, row 3: hours 'много'"):
        read_curriculum(p)
    p.write_text("class,subject\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no column for grade"):
        read_curriculum(p)


def test_cli_curriculum_file_runs_the_hours_rule(tmp_path: Path) -> None:
    from core.connector import Page
    from core.store import Store
    from journalsync.cli import app
    from tests.core.compliance.test_compliance_world import AS_OF

    w = build()
    db = tmp_path / "j.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.commit_page(
            SCHOOL, "test", Page(stream="all", scope="all", records=w.records, cursor={})
        )
    plan = tmp_path / "plan.csv"
    plan.write_text("grade,subject,hours\n5,Математика,4\n", encoding="utf-8")
    args = [
        "report",
        "compliance",
        "--school",
        SCHOOL,
        "--platform",
        "test",
        "--as-of",
        AS_OF.isoformat(),
        "--db",
        f"sqlite:///{db}",
        "--format",
        "html",
    ]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a.html")])
    assert res.exit_code == 0, res.output
    without = (tmp_path / "a.html").read_text(encoding="utf-8")
    res = CliRunner().invoke(
        app, [*args, "--curriculum", str(plan), "--out", str(tmp_path / "b.html")]
    )
    assert res.exit_code == 0, res.output
    with_plan = (tmp_path / "b.html").read_text(encoding="utf-8")
    assert "проведено уроков 16, по учебному плану 32" in with_plan
    assert "по учебному плану" not in without


@pytest.mark.parametrize("name", ["netschool", "kiasuo", "ruobr", "perm", "avers"])
def test_every_connector_says_how_entry_times_are_known(name: str) -> None:
    from core.connector import EntryTimeKind
    from core.platform import connector_class

    caps = connector_class(name).capabilities
    timed = {"lesson", "homework", "mark", "attendance", "final_mark"} & caps.reads
    assert timed <= set(caps.entry_time), sorted(timed - set(caps.entry_time))
    for entity, et in caps.entry_time.items():
        assert et.note and et.note_ru, (name, entity)
        # no connector maps a platform creation time today: none may claim one
        assert et.kind is not EntryTimeKind.PLATFORM, (name, entity)
    # family-account platforms say their view is partial; NetSchool's school view is whole
    assert bool(caps.partial_view) == (name != "netschool")
