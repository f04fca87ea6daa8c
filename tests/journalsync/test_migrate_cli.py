"""``journalsync migrate``: a plan's life in the store (planned → approved → …) and its errors —
one message, the README's exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from core.store import Store
from journalsync.cli import app

CONFIG = """\
[municipality]
name = "Test"

[store]
url = "sqlite:///{db}"

[[schools]]
slug = "s-1"
name = "School 1"

[[schools.bindings]]
name = "sgo"
platform = "netschool"
base_url = "http://127.0.0.1:9"
platform_school = "S1"
login = "admin"
password = {{ env = "JS_TEST_MIGRATE_PW" }}

[[schools.bindings]]
name = "epos"
platform = "perm"
base_url = "http://127.0.0.1:10"
login = "admin-45"
token = {{ env = "JS_TEST_MIGRATE_TOKEN" }}
effective = 2026-01-12
"""

runner = CliRunner()


def _store_with_plan(db: Path) -> None:
    with Store.open(f"sqlite:///{db}") as store:
        store.save_plan(
            "p-1",
            school="s-1",
            source=("sgo", "netschool"),
            target=("epos", "perm"),
            counts={"mark": {"source": 1}},
            data={"school": "s-1", "source": {}, "target": {}, "items": [], "pending_review": 0},
        )


def _flat(output: str) -> str:
    return " ".join(output.split())


def test_approve_records_who_and_a_second_approval_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "js.db"
    _store_with_plan(db)
    ok = runner.invoke(app, ["migrate", "approve", "p-1", "--db", f"sqlite:///{db}", "--by", "zav"])
    assert ok.exit_code == 0, ok.output
    with Store.open(f"sqlite:///{db}") as store:
        row = store.plan("p-1")
        assert (row.state, row.approved_by) == ("approved", "zav")
        assert row.approved_at is not None
    again = runner.invoke(app, ["migrate", "approve", "p-1", "--db", f"sqlite:///{db}"])
    assert again.exit_code == 2 and "already approved" in _flat(again.output)
    listed = runner.invoke(app, ["migrate", "list", "--db", f"sqlite:///{db}"])
    assert "p-1" in listed.output and "approved" in listed.output


def test_unknown_plan_and_unapproved_apply_exit_2_without_traceback(tmp_path: Path) -> None:
    db = tmp_path / "js.db"
    _store_with_plan(db)
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG.format(db=db), encoding="utf-8")
    missing = runner.invoke(app, ["migrate", "approve", "nope", "--db", f"sqlite:///{db}"])
    assert missing.exit_code == 2
    assert "no migration plan 'nope'" in _flat(missing.output)
    refused = runner.invoke(app, ["migrate", "apply", "-c", str(cfg), "p-1"])
    assert refused.exit_code == 2 and "not approved" in _flat(refused.output)
    early = runner.invoke(app, ["migrate", "verify", "-c", str(cfg), "p-1"])
    assert early.exit_code == 2 and "not applied" in _flat(early.output)
    for out in (missing, refused, early):
        assert "Traceback" not in out.output
        assert out.exception is None or isinstance(out.exception, SystemExit)


def test_engine_temporal_takes_all_and_an_unreachable_server_is_named(tmp_path: Path) -> None:
    db = tmp_path / "js.db"
    _store_with_plan(db)
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG.format(db=db) + '[temporal]\naddress = "127.0.0.1:9"\n', encoding="utf-8")
    one = runner.invoke(app, ["migrate", "apply", "-c", str(cfg), "p-1", "--engine", "temporal"])
    assert one.exit_code == 2 and "--engine temporal runs the schools of --all" in _flat(one.output)
    pair = ["--all", "--from-platform", "netschool", "--to-platform", "perm"]
    down = runner.invoke(app, ["migrate", "verify", "-c", str(cfg), *pair, "--engine", "temporal"])
    assert down.exit_code == 2 and "cannot reach Temporal at 127.0.0.1:9" in _flat(down.output)
    for out in (one, down):
        assert "Traceback" not in out.output
    with Store.open(f"sqlite:///{db}") as store:
        assert store.plan("p-1").state == "planned"  # nothing ran


def test_apply_refuses_a_plan_with_identities_not_yet_decided(tmp_path: Path) -> None:
    db = tmp_path / "js.db"
    with Store.open(f"sqlite:///{db}") as store:
        store.save_plan(
            "p-2",
            school="s-1",
            source=("sgo", "netschool"),
            target=("epos", "perm"),
            counts={},
            data={"school": "s-1", "source": {}, "target": {}, "items": [], "pending_review": 3},
        )
        store.set_plan_state("p-2", "approved", approved_by="zav")
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG.format(db=db), encoding="utf-8")
    out = runner.invoke(app, ["migrate", "apply", "-c", str(cfg), "p-2"])
    assert out.exit_code == 2
    assert "3 identities not yet decided" in _flat(out.output) and "--review" in _flat(out.output)


def test_plan_names_a_binding_the_school_does_not_have(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text(CONFIG.format(db=tmp_path / "js.db"), encoding="utf-8")
    out = runner.invoke(
        app,
        ["migrate", "plan", "-c", str(cfg), "--school", "s-1", "--from", "sgo", "--to", "kiasuo",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert out.exit_code == 2
    assert "no binding 'kiasuo'" in _flat(out.output) and "sgo, epos" in _flat(out.output)
    same = runner.invoke(
        app,
        ["migrate", "plan", "-c", str(cfg), "--school", "s-1", "--from", "sgo", "--to", "sgo",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert same.exit_code == 2 and "both on netschool" in _flat(same.output)
    assert not (tmp_path / "out").exists()


def test_the_roster_the_target_lacks_goes_in_a_package_for_its_operator(tmp_path: Path) -> None:
    import zipfile
    from datetime import date

    from core.codes import Role
    from core.migrate import build_plan
    from core.model import AcademicYear, ClassUnit, Enrollment, Person, School
    from core.platform import connector_class
    from journalsync.migrate_cmd import _roster_package
    from scheduler import SchoolPlan, SecretRef

    def side(platform: str, pupils: int) -> dict[str, list]:  # type: ignore[type-arg]
        year = AcademicYear(school="s-1", start_year=2026, start=date(2026, 9, 1),
                            end=date(2027, 5, 31))  # fmt: skip
        cls = ClassUnit(school="s-1", year_id=year.id, grade=5, letter="А")
        people = [
            Person(school="s-1", key=f"{platform}:{n}", last_name=f"Иванов{n}",
                   first_name="Иван", roles=(Role.STUDENT,))
            for n in range(pupils)
        ]  # fmt: skip
        return {
            "school": [School(school="s-1", name="Школа № 1")],
            "academic_year": [year],
            "class_unit": [cls],
            "person": people,
            "enrollment": [
                Enrollment(school="s-1", student_id=p.id, class_id=cls.id, begin=year.start)
                for p in people
            ],
        }

    mine, theirs = side("netschool", 2), side("perm", 1)

    class M:
        def __init__(self, entity: str, s: str, t: str | None, state: str) -> None:
            self.entity, self.source_id, self.target_id, self.state = entity, s, t, state

    matches = [
        M("person", mine["person"][0].id, theirs["person"][0].id, "matched"),
        M("person", mine["person"][1].id, None, "unmatched"),
        M("class_unit", mine["class_unit"][0].id, theirs["class_unit"][0].id, "matched"),
    ]
    plan = build_plan(
        school="s-1",
        source={},
        target={},
        source_records=mine,
        target_records=theirs,
        id_map={m.source_id: m.target_id for m in matches if m.target_id},
        source_capabilities=connector_class("netschool").capabilities,
        target_capabilities=connector_class("perm").capabilities,
        matches=matches,
    )
    [needed] = [r for r in plan.roster if r.state == "needed"]
    assert needed.channel == "package"
    tgt = SchoolPlan(slug="s-1", name="s-1", platform="perm", base_url="http://127.0.0.1:9",
                     platform_school="", login="x", password=SecretRef(env="X"),
                     timezone="Asia/Yekaterinburg")  # fmt: skip
    path = _roster_package(plan, mine, theirs, {}, tgt, tmp_path)
    assert path is not None and path.exists()
    with zipfile.ZipFile(path) as z:
        users = z.read("users.csv").decode("utf-8-sig")
    assert "Иванов1" in users and "Иванов0" not in users
