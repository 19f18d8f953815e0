"""The executive summary, computed from the checks: a production readiness score out
of 10, the top issues with risk and action, what works, and the security scorecard by
area, in the shape of the audit that started this project.

Scoring: each check weighs by its severity (critical 4, high 3, medium 2, low 1); a pass
earns its full weight, a warning half, a failure or an unchecked item nothing. The
score is 10 x earned / possible, and an area's percentage the same over its checks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from studio.audit.checks import Check

WEIGHTS = {"critical": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}
CREDIT = {"pass": 1.0, "warn": 0.5, "fail": 0.0, "error": 0.0}
# Findings through which one user could read or change another user's rows: RLS off or
# not forced (K1), a policy that lets every row through or a client grant beyond need
# (K5), a runtime role that bypasses RLS (F4). They come first, wherever they show.
ISOLATION_FINDINGS = frozenset({"K1", "K5", "F4"})
# Any of these failing blocks production (and `studio audit`'s exit), whatever the score:
# the isolation findings and the seed's "must fix before launch" ones.
CRITICAL_FINDINGS = ISOLATION_FINDINGS | frozenset({"F1", "F2", "F3", "F5"})
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
STATUS_ORDER = {"fail": 0, "error": 1, "warn": 2, "pass": 3}


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    generated_at: datetime

    @property
    def score(self) -> float:
        return _score(self.checks)

    @property
    def blocking(self) -> list[Check]:
        """Critical findings that failed or could not be checked, the isolation ones first."""
        return sorted((c for c in self.checks if c.id in CRITICAL_FINDINGS and c.status in ("fail", "error")),
                      key=lambda c: c.id not in ISOLATION_FINDINGS)

    @property
    def verdict(self) -> str:
        if self.blocking or self.score < 7:
            return "NOT PRODUCTION READY"
        # Ready means nothing failed and nothing that matters is only half done.
        if self.score < 9 or any(c.status in ("fail", "error") or (c.status == "warn" and c.severity in (
                "critical", "high")) for c in self.checks):
            return "NEARLY PRODUCTION READY"
        return "PRODUCTION READY"

    def areas(self) -> list[tuple[str, float, list[Check]]]:
        grouped: dict[str, list[Check]] = defaultdict(list)
        for check in self.checks:
            grouped[check.area].append(check)
        return [(area, _score(checks) * 10, checks) for area, checks in grouped.items()]

    def top_issues(self, limit: int = 5) -> list[Check]:
        open_ = [c for c in self.checks if c.status != "pass"]
        return sorted(open_, key=lambda c: (c.id not in ISOLATION_FINDINGS, c.id not in CRITICAL_FINDINGS,
                                            STATUS_ORDER[c.status], SEVERITY_ORDER[c.severity]))[:limit]

    def exit_code(self, threshold: float) -> int:
        """Non-zero below the threshold and whenever a critical finding fails."""
        return 1 if self.blocking or self.score < threshold else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 1),
            "status": self.verdict,
            "generated_at": self.generated_at.isoformat(),
            "blocking": [c.id for c in self.blocking],
            "scorecard": [{"area": area, "percent": round(percent), "grade": _grade(percent)}
                          for area, percent, _ in self.areas()],
            "checks": [c.as_json() for c in self.checks],
        }


def _score(checks: list[Check]) -> float:
    possible = sum(WEIGHTS[c.severity] for c in checks)
    earned = sum(WEIGHTS[c.severity] * CREDIT[c.status] for c in checks)
    return 10 * earned / possible if possible else 0.0


def _grade(percent: float) -> str:
    for floor, grade in ((97, "A+"), (93, "A"), (90, "A-"), (87, "B+"), (83, "B"), (80, "B-"),
                         (77, "C+"), (73, "C"), (70, "C-"), (60, "D")):
        if percent >= floor:
            return grade
    return "F"


def _area_status(percent: float) -> str:
    if percent >= 90:
        return "✅ Excellent"
    if percent >= 75:
        return "⚠️ Good"
    if percent > 0:
        return "⚠️ Needs Work"
    return "❌ Missing"


_MARK = {"pass": "✅", "warn": "⚠️", "fail": "❌", "error": "❓"}


def build(checks: list[Check]) -> Report:
    return Report(checks, datetime.now(UTC))


def markdown(report: Report, *, title: str = "Studio") -> str:
    """The executive summary, as Markdown (readable as is in a terminal)."""
    score = report.score
    icon = {"PRODUCTION READY": "🟢", "NEARLY PRODUCTION READY": "🟡"}.get(report.verdict, "🔴")
    lines = [
        "# DATABASE AUDIT - EXECUTIVE SUMMARY", "",
        f"**{title}**  ", f"**Date:** {report.generated_at:%Y-%m-%d %H:%M} UTC", "", "---", "",
        "## QUICK STATUS", "",
        f"{icon} **{report.verdict}**" + (
            f" - critical findings fail: {', '.join(c.id for c in report.blocking)}" if report.blocking else ""),
        "", f"**Production Readiness Score: {score:.1f}/10**", "", "---", "",
    ]
    issues = report.top_issues()
    lines += [f"## TOP {len(issues)} ISSUES" if issues else "## TOP ISSUES", ""]
    if not issues:
        lines += ["None: every check passed.", ""]
    for n, check in enumerate(issues, 1):
        lines += [f"### {n}. {_MARK[check.status]} {check.title} ({check.id}, {check.severity.upper()})", "",
                  f"**Found:** {check.detail}  ", f"**Risk:** {check.risk}  ", f"**Action:** {check.action}", ""]
    lines += ["---", "", "## WHAT'S WORKING WELL ✅", ""]
    working = [c for c in report.checks if c.status == "pass"]
    for n, check in enumerate(working, 1):
        lines.append(f"{n}. **{check.title}** ({check.id}) - {check.detail}")
    if not working:
        lines.append("Nothing passed.")
    lines += ["", "---", "", "## SECURITY SCORECARD", "", "| Area | Score | Status |", "| --- | --- | --- |"]
    for area, percent, _ in report.areas():
        lines.append(f"| {area} | {percent:.0f}% | {_area_status(percent)} |")
    overall = score * 10
    lines.append(f"| **OVERALL** | **{overall:.0f}%** | **{_grade(overall)}** |")
    lines += ["", "---", "", "## ALL CHECKS", "", "| ID | Check | Status | Detail |", "| --- | --- | --- | --- |"]
    for check in sorted(report.checks, key=lambda c: (c.id[0] != "K", int(c.id[1:]))):
        detail = check.detail.replace("|", "\\|")
        lines.append(f"| {check.id} | {check.title} | {_MARK[check.status]} {check.status} | {detail} |")
    lines += ["", ("Score: each check weighs by severity (critical 4, high 3, medium 2, low 1); a warning "
                   "earns half, a failure or an unchecked item nothing.")]
    return "\n".join(lines) + "\n"
