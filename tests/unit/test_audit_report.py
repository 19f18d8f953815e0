"""The audit's score and verdict are computed from the checks (F24): change a check and
they change."""

from __future__ import annotations

from studio.audit import report
from studio.audit.checks import Check


def check(id_: str, status: str, severity: str = "medium", area: str = "Area") -> Check:
    return Check(id_, area, f"check {id_}", severity, status, "detail")  # type: ignore[arg-type]


def test_all_passing_scores_ten_and_is_ready():
    result = report.build([check("K1", "pass", "high"), check("F1", "pass", "critical"), check("F6", "pass")])
    assert result.score == 10 and result.verdict == "PRODUCTION READY"
    assert result.exit_code(threshold=8) == 0


def test_the_score_weighs_by_severity_and_a_warning_earns_half():
    checks = [check("F1", "pass", "critical"), check("F6", "fail", "medium"), check("F7", "warn", "high")]
    result = report.build(checks)
    # (4 + 0 + 1.5) / (4 + 2 + 3) * 10
    assert abs(result.score - 10 * 5.5 / 9) < 1e-9
    assert result.verdict == "NOT PRODUCTION READY"  # below 7


def test_a_failing_critical_finding_blocks_whatever_the_score():
    checks = [check("F3", "fail", "critical")] + [check(f"F{n}", "pass", "high") for n in range(6, 20)]
    result = report.build(checks)
    assert result.score > 9
    assert [c.id for c in result.blocking] == ["F3"]
    assert result.verdict == "NOT PRODUCTION READY" and result.exit_code(threshold=0) == 1


def test_a_way_into_another_users_rows_blocks_and_comes_first():
    """K1, K5, F4 (RLS off, a policy or grant that opens rows, a role that bypasses RLS)
    fail the gate whatever the score, and lead the blocking list and the top issues."""
    passing = [check(f"F{n}", "pass", "high") for n in range(6, 30)]
    for isolation in ("K1", "K5", "F4"):
        result = report.build([check("F1", "fail", "critical"), check("F6", "fail", "high"), *passing,
                               check(isolation, "fail", "critical")])
        assert [c.id for c in result.blocking] == [isolation, "F1"]
        assert [c.id for c in result.top_issues()][:3] == [isolation, "F1", "F6"]
        assert result.exit_code(threshold=0) == 1 and result.verdict == "NOT PRODUCTION READY"
        assert report.markdown(result).index(f"({isolation}, CRITICAL)") < report.markdown(result).index("(F1,")
    alone = report.build([*passing, check("K5", "fail", "critical")])
    assert alone.score > 9 and alone.exit_code(threshold=0) == 1


def test_an_unchecked_item_counts_as_failed_not_as_fine():
    result = report.build([check("F2", "error", "critical"), check("F6", "pass")])
    assert result.score == 10 * 2 / 6 and [c.id for c in result.blocking] == ["F2"]


def test_the_summary_and_json_carry_the_computed_figures():
    result = report.build([check("K1", "pass", "high", "RLS Policies"), check("F14", "warn", "high", "Secrets")])
    text = report.markdown(result)
    assert f"Production Readiness Score: {result.score:.1f}/10" in text
    assert "| RLS Policies | 100% |" in text and "| Secrets | 50% |" in text
    assert "NEARLY PRODUCTION READY" in text  # a warning on a high finding
    data = result.as_json()
    assert data["score"] == round(result.score, 1)
    assert {c["id"]: c["status"] for c in data["checks"]} == {"K1": "pass", "F14": "warn"}
    assert set(data["checks"][0]) >= {"id", "area", "status", "detail"}


def test_the_ops_page_shows_a_report_as_it_was_printed():
    """GET /v1/admin/ops reads a stored report in the shape `studio audit --format json`
    prints: the score, the verdict, and every check that did not pass, the worst first."""
    from studio.monitoring.schemas import AuditSummary
    from studio.monitoring.service import audit_summary

    checks = [check("F6", "warn", "medium"), check("K1", "pass", "high"), check("F7", "fail", "low"),
              check("F3", "fail", "critical"), check("F9", "error", "high")]
    printed = report.build(checks).as_json()
    summary = audit_summary(printed)
    AuditSummary.model_validate(summary)
    assert summary["available"] is True and summary["message"] is None
    assert summary["score"] == printed["score"] and summary["status"] == "NOT PRODUCTION READY"
    assert summary["blocking"] == ["F3"] and summary["generated_at"] == printed["generated_at"]
    assert [c["id"] for c in summary["failing"]] == ["F3", "F7", "F9", "F6"]
    assert set(summary["failing"][0]) == {"id", "area", "title", "severity", "status", "detail", "action"}

    nothing = audit_summary(None)
    AuditSummary.model_validate(nothing)
    assert nothing["available"] is False and "studio audit" in nothing["message"]
